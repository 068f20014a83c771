import csv

from tests.cli_helpers import run_cli
from tests.conftest import write_photo


def test_eval_builds_pairs_prints_the_table_and_writes_the_csv(tmp_path, bad_files):
    photos = tmp_path / "photos"
    for index in range(2):
        write_photo(photos / f"p{index}.png", 20, 28, seed=index)
    (photos / "broken.png").write_bytes(bad_files["truncated"].read_bytes())
    # No --checkpoint and no runs/ here: the input and the shipped restorer, whose vectors stage one makes first.
    cache = ("--cache-dir", str(tmp_path / "cache"))
    result = run_cli("restore-eval", f"folder:{photos}", *cache, "--report", str(tmp_path / "m.csv"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "22 pairs" in result.stdout and "average" in result.stdout
    assert "input: the degraded images" in result.stdout and "shipped: the shipped restorer" in result.stdout
    assert "embedded folder:" in result.stdout
    assert "skipped" in result.stderr and "broken.png" in result.stderr and "Traceback" not in result.stderr
    with open(tmp_path / "m.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["split", "model", "category", "images", "psnr", "ssim", "seconds_per_image"]
    assert [r["category"] for r in rows][:2] == ["low", "haze"] and rows[-1]["category"] == "average"
    assert [r["model"] for r in rows if r["category"] == "average"] == ["input", "shipped"]
    assert all(r["images"] == ("22" if r["category"] == "average" else "2") for r in rows)
    assert 5 < float(rows[11]["psnr"]) < 30
    again = run_cli("restore-eval", f"folder:{photos}", "--cache-dir", str(tmp_path / "cache"), cwd=tmp_path)
    assert "already built" in again.stdout and "embedded" not in again.stdout


def test_known_errors_are_one_red_line_and_an_exit_code(tmp_path):
    result = run_cli("restore-eval", "nosuch", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: unknown split 'nosuch'; choose one of lsdir-train, lsdir-val, cdd11, cdd11-train, demo, "
        "folder:PATH[,PATH...], heldout:PATH, closeup:PATH[,PATH...], dimroom:PATH[,PATH...], "
        "weather:PATH[,PATH...], underexposed:PATH[,PATH...], paired:PATH"
    ]
    debug = run_cli("restore-eval", "nosuch", cwd=tmp_path, env={"RESTORE_DEBUG": "1"})
    assert "Traceback" in debug.stderr and "SplitError" in debug.stderr


def test_true_prompts_score_each_checkpoint_beside_its_prompters_guess(tmp_path):
    photos = tmp_path / "photos"
    write_photo(photos / "p0.png", 20, 28, seed=0)
    cache = ("--cache-dir", str(tmp_path / "cache"), "--categories", "haze,low_rain")
    result = run_cli("restore-eval", f"folder:{photos}", *cache, "--true-prompts", "--report", str(tmp_path / "m.csv"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "true prompts" in result.stdout
    with open(tmp_path / "m.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["model"] for r in rows if r["category"] == "average"] == ["input", "shipped", "shipped+true"]
    folders = sorted(p.name for p in (tmp_path / "cache").glob("folder-*/local-*"))
    assert len(folders) == 2  # the prompter's vectors and the oracle's, side by side
    truthless = tmp_path / "pairs"
    for side in ("input", "target"):
        write_photo(truthless / side / "a.png", 20, 28, seed=1)
    refused = run_cli("restore-eval", f"paired:{truthless}", "--cache-dir", str(tmp_path / "cache"), "--true-prompts", cwd=tmp_path)
    assert refused.returncode == 1 and "true labels are known only for synthesized splits" in refused.stderr
    assert "Traceback" not in refused.stderr
