import csv

from tests.cli_helpers import run_cli


def test_train_resume_show_and_evaluate_from_the_command_line(tmp_path, tiny_split):
    split, cache_dir, _ = tiny_split
    run = tmp_path / "run"
    common = ["--split", split, "--cache-dir", str(cache_dir), "--crop", "32", "--batch-size", "2", "--width", "8",
              "--contrastive", "none", "--checkpoint-every", "2", "--out", str(run)]  # fmt: skip
    first = run_cli("restore-train", "run", *common, "--steps", "2")
    assert first.returncode == 0, first.stderr
    assert "checkpoint:" in first.stdout and (run / "loss.png").is_file()
    again = run_cli("restore-train", "run", *common, "--steps", "2")
    assert again.returncode == 1 and "pass --resume" in again.stderr and "Traceback" not in again.stderr
    resumed = run_cli("restore-train", "run", "--out", str(run), "--resume", "--steps", "4")
    assert resumed.returncode == 0, resumed.stderr
    shown = run_cli("restore-train", "show", str(run))
    assert "checkpoint step" in shown.stdout and " 4 " in shown.stdout

    report, grid = tmp_path / "m.csv", tmp_path / "grid.png"
    scored = run_cli("restore-eval", split, "--cache-dir", str(cache_dir), "--checkpoint", str(run),
                     "--report", str(report), "--grid", str(grid), "--limit", "2")  # fmt: skip
    assert scored.returncode == 0, scored.stderr
    with open(report) as handle:
        rows = list(csv.DictReader(handle))
    assert {r["model"] for r in rows} == {"input", "run"}
    assert [r["images"] for r in rows if r["category"] == "average"] == ["6", "6"]  # the average leaves clear (2 images) out
    assert grid.stat().st_size > 1000


def test_training_without_a_cache_says_what_to_run(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    result = run_cli(
        "restore-train", "run", "--split", f"folder:{photos}", "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "r")
    )
    assert result.returncode == 1
    assert f"has no embeddings yet; run `restore-embed build --split folder:{photos} --cache-dir" in result.stderr
