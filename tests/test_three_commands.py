"""The mission's three commands, typed in order from a fresh working folder on miniature LSDIR and CDD-11 trees."""

import csv

from tests.cli_helpers import run_cli
from tests.shared.test_splits_and_pairs import cdd11_tree, lsdir_tree


def test_embed_train_evaluate_with_no_other_command(tmp_path):
    data = tmp_path / "data"
    lsdir_tree(data)
    cdd11_tree(data)
    env = {"RESTORE_DATA": str(data)}
    work = tmp_path / "work"
    work.mkdir()

    too_early = run_cli("restore-train", "run", cwd=work, env=env)
    assert too_early.returncode == 1 and "run `restore-embed build --split lsdir-train` first" in too_early.stderr

    built = run_cli("restore-embed", "build", "--split", "lsdir-train", cwd=work, env=env)
    assert built.returncode == 0, built.stderr
    # The recipe's defaults, only smaller: a test cannot afford 2,000 steps at width 32.
    trained = run_cli("restore-train", "run", "--steps", "2", "--batch-size", "2", "--crop", "32", "--width", "8", cwd=work, env=env)
    assert trained.returncode == 0, trained.stderr
    assert (work / "runs" / "lsdir-train-dynamic" / "checkpoint" / "cache.json").is_file()

    scored = run_cli("restore-eval", "cdd11", "--report", "metrics.csv", cwd=work, env=env)
    assert scored.returncode == 0, scored.stderr
    assert "lsdir-train-dynamic: the newest run on this machine" in scored.stdout
    assert "shipped: the shipped restorer" in scored.stdout and "embedded cdd11" in scored.stdout
    assert "low/00003.png: no ground truth" in scored.stderr  # skipped, and said so
    with open(work / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    averages = {r["model"]: r for r in rows if r["category"] == "average"}
    assert list(averages) == ["input", "lsdir-train-dynamic", "shipped"]
    assert {r["images"] for r in averages.values()} == {"6"}  # 3 categories x 2 photos with ground truth
