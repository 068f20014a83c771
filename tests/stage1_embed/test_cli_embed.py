import json
import os
import subprocess
import sys

import torch

from shared.assessor import SHIPPED_ASSESSOR
from shared.cache import shard_name, verify_cache
from shared.pairs import read_pairs
from stage1_embed.build import device_from_environment, worker_from_environment
from tests.cli_helpers import run_cli
from tests.conftest import write_photo


def test_build_verify_inspect_from_the_command_line(tmp_path, prompter_dir, tiny_llava):
    photos = tmp_path / "photos"
    for i in range(3):
        write_photo(photos / f"p{i}.png", 30, 40, seed=i)
    common = [
        "--split",
        f"folder:{photos}",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--prompter",
        str(prompter_dir),
        "--rows-per-shard",
        "16",
    ]
    result = run_cli("restore-embed", "build", *common, "--encoder", "local")
    assert result.returncode == 0, result.stderr
    assert "encoder: local" in result.stdout and "images/s" in result.stdout and "size per 1,000 images" in result.stdout
    caches = list((tmp_path / "cache" / "folder-photos").glob("local-*"))
    assert len(caches) == 1
    verify = run_cli("restore-embed", "verify", str(caches[0]))
    assert verify.returncode == 0 and "ok" in verify.stdout
    inspect = run_cli("restore-embed", "inspect", str(caches[0]))
    assert inspect.returncode == 0 and "embedding" in inspect.stdout and "float16" in inspect.stdout and "p0/haze" in inspect.stdout

    shard = caches[0] / shard_name(0, 3)
    shard.write_bytes(b"not hdf5")
    broken = run_cli("restore-embed", "verify", str(caches[0]))
    assert broken.returncode == 1 and "corrupt" in broken.stdout and "Traceback" not in broken.stderr
    rebuilt = run_cli("restore-embed", "build", *common, "--encoder", "local")
    assert rebuilt.returncode == 0 and "rebuilt" in rebuilt.stderr

    e5v = run_cli("restore-embed", "build", *common, "--encoder", "e5v", "--model", str(tiny_llava), "--quant", "4bit", "--batch-size", "4")
    assert e5v.returncode == 0, e5v.stderr
    assert len(list((tmp_path / "cache" / "folder-photos").glob("e5v-*"))) == 1


def test_bad_arguments_are_one_line(tmp_path, prompter_dir):
    for argv, message in [
        (["--encoder", "clip"], "choose one of auto, e5v, local"),
        (["--shard", "2/2"], "--shard '2/2'"),
        (["--encoder", "e5v"], "huggingface-cli download royokong/e5-v"),
    ]:
        result = run_cli("restore-embed", "build", "--split", "demo", "--cache-dir", str(tmp_path), "--prompter", str(prompter_dir), *argv)
        assert result.returncode == 1, result.stderr
        assert message in result.stderr and "Traceback" not in result.stderr


def test_train_then_evaluate_the_prompter(tmp_path):
    for name, count in (("train", 3), ("val", 2), ("eval", 2)):
        for i in range(count):
            write_photo(tmp_path / name / f"{name}{i}.png", 40, 48, seed=i)
    out = tmp_path / "runs" / "prompter"  # the default: the shipped prompter is never replaced unless --out names it
    cache = ["--cache-dir", str(tmp_path / "cache")]
    shipped = {p.name: p.read_bytes() for p in SHIPPED_ASSESSOR.iterdir() if p.is_file()}
    data = ["--train", f"folder:{tmp_path / 'train'}", "--val", f"folder:{tmp_path / 'val'}", "--epochs", "1", *cache]
    extra = ["--extra-train", f"weather:{tmp_path / 'train'}", "--heldout-val", f"heldout:{tmp_path / 'val'}", "--families", "dark"]
    trained = run_cli("restore-embed", "train-prompter", *data, *extra, cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    # 3 photos x (the 19 degraded categories + clear), then the weather split's 3 x CDD-11's 11.
    assert "training on 93 images from 2 split(s)" in trained.stdout
    # --families reaches the training and validation composites, not the extra or held-out splits (their own families).
    low_light = {}
    for directory in (tmp_path / "cache").glob("*/pairs"):
        low_light[directory.parent.name] = {row.params["low"]["family"] for row in read_pairs(directory) if "low" in row.params}
    for split in ("folder-train", "folder-val"):
        assert low_light[split] <= {"dark_lime", "camera"} and "dark_lime" in low_light[split], low_light
    assert "lime" in low_light["weather-train"] and "dark_lime" not in low_light["weather-train"], low_light
    assert low_light["heldout-val"] == {"curve"}, low_light
    assert {p.name for p in out.iterdir()} >= {"model.safetensors", "config.json", "train_config.json", "history.csv", "history.png"}
    assert {p.name: p.read_bytes() for p in SHIPPED_ASSESSOR.iterdir() if p.is_file()} == shipped
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("mine")
    refused = run_cli("restore-embed", "train-prompter", *data, "--out", str(notes))
    assert refused.returncode == 1 and "holds todo.txt, which train-prompter did not write" in refused.stderr
    assert [p.name for p in notes.iterdir()] == ["todo.txt"]
    scored = run_cli(
        "restore-embed",
        "eval-prompter",
        "--split",
        f"folder:{tmp_path / 'eval'}",
        "--prompter",
        str(out),
        "--report",
        str(tmp_path / "p.csv"),
        *cache,
    )
    assert scored.returncode == 0, scored.stderr
    assert "all 12" in scored.stdout and "precision" in scored.stdout
    lines = (tmp_path / "p.csv").read_text().splitlines()
    assert lines[0] == "split,seed,metric,name,value" and any(",f1,blur," in line for line in lines)
    assert any(",recall,noise," in line for line in lines)
    only = run_cli("restore-embed", "eval-prompter", "--split", f"folder:{tmp_path / 'eval'}", "--seed", "5", "--prompter", str(out),
                   "--categories", "clear,noise", "--cache-dir", str(tmp_path / "cache-noise"))  # fmt: skip
    assert only.returncode == 0, only.stderr
    [manifest] = (tmp_path / "cache-noise").glob("folder-eval*/pairs/manifest.jsonl")
    assert {json.loads(line)["category"] for line in manifest.read_text().splitlines()} == {"clear", "noise"}


def test_workers_take_their_shard_from_the_launcher():
    assert worker_from_environment({}) == (0, 1)
    assert worker_from_environment({"RANK": "3", "WORLD_SIZE": "8", "LOCAL_RANK": "3"}) == (3, 8)
    slurm = {"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_MIN": "4", "SLURM_ARRAY_TASK_COUNT": "3"}  # sbatch --array=4-6
    assert worker_from_environment(slurm) == (1, 3)
    assert device_from_environment({"LOCAL_RANK": "1"}) == ("cuda:1" if torch.cuda.is_available() else None)


def test_build_under_torchrun_splits_the_shards_between_processes(tmp_path, prompter_dir):
    photos = tmp_path / "photos"
    for i in range(3):
        write_photo(photos / f"p{i}.png", 24, 32, seed=i)
    cache = tmp_path / "cache"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "stage1_embed.cli", "build",
               "--split", f"folder:{photos}", "--encoder", "local", "--prompter", str(prompter_dir), "--cache-dir", str(cache),
               "--rows-per-shard", "8"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "[0/2]" in result.stdout and "[1/2]" in result.stdout  # each process built its own half of the plan
    [folder] = [p for p in (cache / "folder-photos").iterdir() if p.name.startswith("local-")]
    statuses = verify_cache(folder)
    assert len(statuses) == 5 and all(s.state == "ok" for s in statuses)  # 3 photos x 11 categories in 8-row shards
