"""What the stages agree on: labels, keys, the fingerprint's identity, run/checkpoint folders, stage one's command line."""

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from shared import assessor, cache, contract
from shared.contract import (
    SHIPPED_PROMPTER,
    Fingerprint,
    checkpoint_folder,
    checkpoint_name,
    newest_run,
    read_binding,
    stage_one_command,
    write_binding,
)
from shared.errors import CacheError, ConfigError

ROOT = Path(__file__).resolve().parents[2]
E5V = Fingerprint("e5v", "local:0123456789abcdef", "template", "prompter-hash", 64)


def test_labels_and_categories_are_defined_once():
    assert assessor.LABELS == contract.LABELS == cache.LABEL_NAMES
    assert contract.category_of(np.array([1, 1, 1, 0, 1, 0])) == "low_haze_rain"  # noise is not a weather class
    assert contract.category_of(np.zeros(6)) == "clear"
    assert cache.cache_key is contract.cache_key and cache.Fingerprint is contract.Fingerprint
    assert contract.cache_key(contract.photo_image_id(3), contract.PHOTO_CATEGORY) == "000003/photo"


def test_locators_are_not_part_of_the_identity(tmp_path):
    moved = Fingerprint(**{**json.loads(E5V.to_json()), "model_locator": "/a/e5v", "prompter_locator": "/b/p"})
    assert moved == E5V and moved.id == E5V.id and not moved.differences(E5V)
    # A binding written before the locators existed reads back, under the folder name it always had.
    old = tmp_path / "old"
    old.mkdir()
    (old / "model.safetensors").write_bytes(b"")
    (old / "config.json").write_text("{}")
    written = write_binding(old, E5V)
    written.write_text(json.dumps({k: v for k, v in json.loads(written.read_text()).items() if not k.endswith("_locator")}))
    assert read_binding(old).directory_name == E5V.directory_name and read_binding(old).prompter_locator == ""
    # The shipped restorer reads the shipped prompter, wherever the package is installed.
    assert read_binding(ROOT / "stage2_restore" / "weights" / "restorer").prompter_locator == contract.SHIPPED_PROMPTER
    assert contract.Failure.from_dict(contract.Failure("a/low", "truncated").to_dict()) == contract.Failure("a/low", "truncated")


def test_one_resolver_for_run_and_checkpoint_folders(tmp_path):
    run = tmp_path / "runs" / "mine"
    (run / "checkpoint").mkdir(parents=True)
    (run / "checkpoint" / "config.json").write_text("{}")
    write_binding(run / "checkpoint", E5V)
    assert checkpoint_folder(run) == checkpoint_folder(run / "checkpoint") == run / "checkpoint"
    assert checkpoint_name(run) == checkpoint_name(run / "checkpoint") == "mine"
    assert read_binding(run) == E5V
    started = tmp_path / "runs" / "started"
    started.mkdir()
    (started / "train_config.json").write_text("{}")
    with pytest.raises(ConfigError, match="has no checkpoint yet"):
        checkpoint_folder(started)
    with pytest.raises(ConfigError, match="not a run or checkpoint folder"):
        checkpoint_folder(tmp_path)
    with pytest.raises(ConfigError, match="no such folder"):
        checkpoint_folder(tmp_path / "missing")
    (run / "checkpoint" / "cache.json").unlink()
    with pytest.raises(CacheError, match="no cache.json"):
        read_binding(run)


def test_newest_run_is_the_last_checkpoint_written(tmp_path):
    assert newest_run(tmp_path / "runs") is None
    for index, name in enumerate(("b", "a")):
        folder = tmp_path / "runs" / name / "checkpoint"
        folder.mkdir(parents=True)
        os.utime(write_binding(folder, E5V), ns=(10**18 + index, 10**18 + index))
    (tmp_path / "runs" / "prompter").mkdir()  # other things under runs/ are not restorer runs
    assert newest_run(tmp_path / "runs") == tmp_path / "runs" / "a"


def test_stage_one_runs_with_the_model_and_prompter_the_fingerprint_names(tmp_path):
    e5v_folder, prompter = tmp_path / "e5v", tmp_path / "prompter"
    prompter.mkdir()
    bound = Fingerprint(**{**json.loads(E5V.to_json()), "model_locator": str(e5v_folder), "prompter_locator": str(prompter)})
    argv = stage_one_command(bound, "photos", ["--out", "x"])
    assert argv[:5] == [sys.executable, "-m", "stage1_embed.cli", "photos", "--out"]
    assert argv[6:] == ["--encoder", "e5v", "--model", str(e5v_folder), "--prompter", str(prompter)]
    # A folder-loaded model's revision is "local:<digest>", never a path: without a locator, say so.
    with pytest.raises(ConfigError, match='add "model_locator"'):
        stage_one_command(E5V, "photos", [], source="runs/old")
    hub = Fingerprint("e5v", "royokong/e5-v@abc123", "t", "h", 4096, prompter_locator=SHIPPED_PROMPTER)
    assert stage_one_command(hub, "build", [])[4:] == ["--encoder", "e5v", "--model", "royokong/e5-v"]
    gone = Fingerprint("local", "r", "t", "h", 512, prompter_locator=str(tmp_path / "deleted"))
    with pytest.raises(ConfigError, match=r"deleted \(hash h\), which is not on this machine"):
        stage_one_command(gone, "build", [])
