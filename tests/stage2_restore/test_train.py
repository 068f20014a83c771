import csv
import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from shared.assessor import SHIPPED_ASSESSOR, load_assessor, save_assessor, weights_hash
from shared.cache import CacheError, Fingerprint
from shared.config import save_config
from shared.contract import SHIPPED_PROMPTER, TRUE_PROMPTS, read_binding, true_prompt_fingerprint, write_binding
from shared.errors import ConfigError, ImageReadError
from shared.splits import resolve_split
from stage2_restore import losses
from stage2_restore.evaluate import checkpoint_model, identity, score_pairs, summarize
from stage2_restore.network import Restorer
from stage2_restore.train import TrainConfig, TrainingDiverged, describe_run, export_checkpoint, find_cache, lr_at, plan_run, train
from tests.stage2_restore.conftest import FINGERPRINT, TINY_RESTORER, tiny_train_config, write_cache

ROOT = Path(__file__).resolve().parents[2]


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(folder / "checkpoint" / "training" / "weights.safetensors")


def test_flags_merge_into_the_config_and_the_run_folder_is_named_once(tmp_path):
    config, run = plan_run({})
    assert config == TrainConfig() and config.split == "lsdir-train" and run == Path("runs/lsdir-train-dynamic")
    flags = {"split": "folder:/x/y", "descriptor": "static", "width": 16, "contrastive": "none", "steps": None}
    config, run = plan_run(flags)
    assert run == Path("runs/folder--x-y-static") and config.steps == TrainConfig().steps
    assert (config.restorer.descriptor, config.restorer.width, config.loss.contrastive_features) == ("static", 16, "none")
    _, run = plan_run({**flags, "extra_splits": ("closeup:/x/y", "heldout:/x/z")})
    assert run == Path("runs/folder--x-y-static+closeup+heldout")
    with pytest.raises(ConfigError, match="unknown training option.*stepz"):
        TrainConfig().with_overrides(stepz=3)

    save_config(TrainConfig(split="demo", steps=7), tmp_path / "c.json")  # --config, then flags; the folder follows both
    config, run = plan_run({"descriptor": "static"}, tmp_path / "c.json")
    assert (config.split, config.steps, config.restorer.descriptor, run) == ("demo", 7, "static", Path("runs/demo-static"))
    save_config(TrainConfig(split="demo", crop=64), tmp_path / "r" / "train_config.json")  # --resume reads the run's own
    config, run = plan_run({"steps": 20}, out=tmp_path / "r", resume=True)
    assert (config.split, config.crop, config.steps, run) == ("demo", 64, 20, tmp_path / "r")

    Restorer(TINY_RESTORER).save_pretrained(tmp_path / "start")  # fine-tuning keeps the start's architecture ...
    config, _ = plan_run({"init_from": str(tmp_path / "start")})
    assert config.restorer == TINY_RESTORER
    config, _ = plan_run({"init_from": str(tmp_path / "start"), "width": 16})  # ... unless a flag changes it
    assert config.restorer == dataclasses.replace(TINY_RESTORER, width=16)


def test_a_short_run_writes_a_loadable_checkpoint_log_and_curve(tmp_path, tiny_split, tiny_assessor):
    split, cache_dir, _ = tiny_split
    result = train(tiny_train_config(split, cache_dir, tiny_assessor), tmp_path / "run")
    assert result.checkpoint == tmp_path / "run" / "checkpoint"
    model = Restorer.from_pretrained(tmp_path / "run")
    assert model.config.embedding_dim == 16  # taken from the cache, whatever the config said
    with open(tmp_path / "run" / "log.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4] and all(np.isfinite(float(r["contrastive"])) for r in rows)
    assert (tmp_path / "run" / "loss.png").stat().st_size > 1000
    assert json.loads((tmp_path / "run" / "checkpoint" / "cache.json").read_text())["embedder"] == "local"
    info = describe_run(tmp_path / "run")
    assert info["step"] == 4 and info["config"]["cache"] == FINGERPRINT.directory_name


def test_resume_after_a_kill_continues_bit_for_bit(tmp_path, tiny_split, tiny_assessor):
    split, cache_dir, _ = tiny_split
    config = tiny_train_config(split, cache_dir, tiny_assessor, steps=6)
    train(config, tmp_path / "straight")

    def kill_at_step_5(log):
        if log.step == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path / "killed", on_step=kill_at_step_5)
    assert json.loads((tmp_path / "killed" / "checkpoint" / "training" / "state.json").read_text())["step"] == 4
    with pytest.raises(ConfigError, match="pass --resume"):
        train(config, tmp_path / "killed")
    train(config, tmp_path / "killed", resume=True)
    straight, resumed = weights(tmp_path / "straight"), weights(tmp_path / "killed")
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)
    with open(tmp_path / "killed" / "log.csv") as handle:  # step 5, logged before the kill and done again, once
        assert [int(r["step"]) for r in csv.DictReader(handle)] == [1, 2, 3, 4, 5, 6]


def test_an_image_that_became_unreadable_is_skipped_and_a_resumed_run_meets_the_same_replacement(tmp_path, tiny_split, tiny_assessor):
    split, cache_dir, rows = tiny_split
    from shared.cache import EmbeddingCache
    from stage2_restore.data import TrainingPairs

    config = tiny_train_config(split, cache_dir, tiny_assessor, steps=6)
    cache = EmbeddingCache(cache_dir / resolve_split(split).slug / FINGERPRINT.directory_name)
    pairs = TrainingPairs([(rows, cache)], config.restorer.static_classes, config.negatives)
    broken = pairs.rows[pairs._draw(np.random.default_rng([config.seed, config.steps, 0]), config.batch_size)[0][0]].degraded
    cache.close()  # broken: an image of the last step's first row, so the resumed run meets it too
    broken.write_bytes(b"not a png any more")
    straight = train(config, tmp_path / "straight")
    assert list(straight.unreadable) == [str(broken)] and straight.unreadable[str(broken)].startswith(f"{broken}: not an image")

    def kill_at_step_5(log):
        if log.step == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path / "killed", on_step=kill_at_step_5)
    assert train(config, tmp_path / "killed", resume=True).unreadable == straight.unreadable  # met again after the resume
    straight_weights, resumed = weights(tmp_path / "straight"), weights(tmp_path / "killed")
    assert all(torch.equal(straight_weights[k], resumed[k]) for k in straight_weights)
    for row in rows:  # every image broken: the data, not one file, is the problem, and the error says which file
        row.degraded.write_bytes(b"")
    with pytest.raises(ImageReadError, match="20 rows in a row with an unreadable image; the last: .*empty file"):
        train(config, tmp_path / "hopeless")


def test_an_unreadable_row_is_replaced_by_one_of_its_kind_so_the_batch_keeps_its_shares(tiny_split):
    from shared.cache import EmbeddingCache
    from stage2_restore.data import TrainingPairs

    name, cache_dir, rows = tiny_split
    cache = EmbeddingCache(cache_dir / resolve_split(name).slug / FINGERPRINT.directory_name)
    pairs = TrainingPairs([(rows, cache), (rows, cache)], ("clear", "low", "other"), negatives=0, clear_fraction=0.25,
                          misdirected_fraction=0.25)  # fmt: skip
    source_of = [source for source, _ in pairs.scene_of]
    for seed in range(20):
        rng = np.random.default_rng(seed)
        clear = pairs.clear[seed % len(pairs.clear)]
        assert pairs.rows[pairs._replacement(clear, clear, rng)[0]].category == "clear"
        row, guide = pairs._replacement(clear, pairs.scenes[pairs.scene_of[clear]][0], rng)  # misdirected
        assert pairs.rows[row].category == "clear" and pairs.scene_of[guide] == pairs.scene_of[row] and guide != row
        degraded = pairs.degraded_by_source[1][seed % len(pairs.degraded_by_source[1])]
        row, guide = pairs._replacement(degraded, degraded, rng)
        assert row == guide and pairs.rows[row].category != "clear" and source_of[row] == 1
    cache.close()


def test_the_images_skipped_before_a_resume_are_still_listed_after_it(tmp_path, tiny_split, tiny_assessor):
    split, cache_dir, rows = tiny_split
    from shared.cache import EmbeddingCache
    from stage2_restore.data import TrainingPairs
    from stage2_restore.train import checkpoint_skipped

    config = tiny_train_config(split, cache_dir, tiny_assessor, steps=6)
    cache = EmbeddingCache(cache_dir / resolve_split(split).slug / FINGERPRINT.directory_name)
    pairs = TrainingPairs([(rows, cache)], config.restorer.static_classes, config.negatives)
    broken = pairs.rows[pairs._draw(np.random.default_rng([config.seed, 1, 0]), config.batch_size)[0][0]].degraded
    cache.close()  # broken: an image of the first step, met before the checkpoint at step 2
    original = broken.read_bytes()
    broken.write_bytes(b"not a png any more")

    def kill_at_step_3(log):
        if log.step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path / "killed", on_step=kill_at_step_3)
    assert list(checkpoint_skipped(tmp_path / "killed")) == [str(broken)]  # kept with the step-2 checkpoint
    broken.write_bytes(original)  # readable again: the resumed run cannot meet it, only the checkpoint remembers it
    assert str(broken) in train(config, tmp_path / "killed", resume=True).unreadable
    assert str(broken) in checkpoint_skipped(tmp_path / "killed")


def test_resume_refuses_another_config(tmp_path, tiny_split, tiny_assessor):
    split, cache_dir, _ = tiny_split
    config = tiny_train_config(split, cache_dir, tiny_assessor, steps=2)
    train(config, tmp_path / "run")
    with pytest.raises(ConfigError, match="another config"):
        train(dataclasses.replace(config, lr=1.0), tmp_path / "run", resume=True)
    train(dataclasses.replace(config, steps=4), tmp_path / "run", resume=True)  # growing --steps is fine
    assert describe_run(tmp_path / "run")["step"] == 4


def test_nan_loss_stops_with_the_step_and_keeps_the_last_good_checkpoint(tmp_path, tiny_split, tiny_assessor, monkeypatch):
    split, cache_dir, _ = tiny_split
    original = losses.RestorationLoss.forward
    calls = {"n": 0}

    def poisoned(self, *args, **kwargs):
        calls["n"] += 1
        total, parts = original(self, *args, **kwargs)
        return (total * float("nan"), parts) if calls["n"] == 3 else (total, parts)

    monkeypatch.setattr(losses.RestorationLoss, "forward", poisoned)
    with pytest.raises(TrainingDiverged, match=r"loss is nan at step 3.*step 2\).*--init-from .*run --out NEW_RUN"):
        train(tiny_train_config(split, cache_dir, tiny_assessor), tmp_path / "run")
    assert describe_run(tmp_path / "run")["step"] == 2
    Restorer.from_pretrained(tmp_path / "run")  # what the advice's --init-from loads


def test_static_descriptor_trains_too(tmp_path, tiny_split, tiny_assessor):
    split, cache_dir, _ = tiny_split
    config = tiny_train_config(split, cache_dir, tiny_assessor, steps=2)
    config = dataclasses.replace(config, restorer=dataclasses.replace(config.restorer, descriptor="static"))
    train(config, tmp_path / "run")
    assert Restorer.from_pretrained(tmp_path / "run").config.descriptor == "static"


def test_learning_rate_schedule():
    config = tiny_train_config("demo", "cache", "", steps=100, warmup_steps=10)
    assert lr_at(5, config) == pytest.approx(config.lr / 2)
    assert lr_at(10, config) == pytest.approx(config.lr)
    assert lr_at(100, config) == pytest.approx(config.min_lr)


def test_evaluation_refuses_a_cache_of_another_embedder_and_skips_missing_ground_truth(tmp_path, tiny_split, tiny_assessor):
    split, cache_dir, rows = tiny_split
    train(tiny_train_config(split, cache_dir, tiny_assessor, steps=2), tmp_path / "run")
    split_cache = cache_dir / "folder-photos"
    name, model = checkpoint_model(tmp_path / "run", split_cache)
    rows[1].clean.rename(rows[1].clean.with_suffix(".gone"))  # p0's ground truth disappears
    scores, failures = score_pairs(rows, {"input": identity, name: model})
    assert [(f["image_id"], f["error"]) for f in failures] == [("p0", f"{rows[1].clean}: file not found")] * 4
    assert {s.image_id for s in scores} == {"p1", "p2", "p3"}
    assert {r.model for r in summarize(scores)} == {"input", "run"}

    other = tmp_path / "other-cache"
    other_fingerprint = Fingerprint("e5v", "royokong/e5-v@x", "t", "p", 16)
    for folder in split_cache.glob("local-*"):
        folder.rename(other)
    write_cache(rows, split_cache / other_fingerprint.directory_name, other_fingerprint)
    with pytest.raises(CacheError, match="was trained on local vectors"):
        checkpoint_model(tmp_path / "run", split_cache)


def test_two_cpu_processes_under_torchrun_agree(tmp_path, tiny_split, tiny_assessor):
    split, cache_dir, _ = tiny_split
    script = tmp_path / "ddp.py"
    script.write_text(
        textwrap.dedent(f"""
        import os, sys, torch
        sys.path.insert(0, {str(ROOT)!r})
        from tests.stage2_restore.conftest import tiny_train_config
        from stage2_restore.train import train
        torch.set_num_threads(1)
        result = train(tiny_train_config({split!r}, {str(cache_dir)!r}, {str(tiny_assessor)!r}, steps=3), {str(tmp_path / "run")!r})
        flat = torch.cat([p.detach().flatten() for p in result.model.parameters()])
        torch.save(flat, {str(tmp_path)!r} + f"/rank{{os.environ['RANK']}}.pt")
    """)
    )
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533", str(script)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    rank0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert torch.equal(rank0, rank1)
    saved = torch.cat([v.flatten() for v in weights(tmp_path / "run").values()])
    assert saved.numel() == rank0.numel()


def test_export_writes_the_shipped_form(tmp_path, tiny_split, tiny_assessor):
    split, cache_dir, _ = tiny_split
    train(tiny_train_config(split, cache_dir, tiny_assessor, steps=2), tmp_path / "run")
    out = export_checkpoint(tmp_path / "run", tmp_path / "shipped")
    assert sorted(p.name for p in out.iterdir()) == ["cache.json", "config.json", "model.safetensors"]
    assert all(v.dtype == torch.float16 for v in load_file(out / "model.safetensors").values())
    image, embedding = torch.rand(1, 3, 24, 24), torch.randn(1, 16)
    with torch.no_grad():
        full = Restorer.from_pretrained(tmp_path / "run")(image, embedding)
        half = Restorer.from_pretrained(out)(image, embedding)
    assert torch.allclose(full, half, atol=2e-2)
    with pytest.raises(ConfigError, match="not a run or checkpoint folder"):
        export_checkpoint(tmp_path, tmp_path / "x")
    export_checkpoint(tmp_path / "run", out)  # an earlier export is replaced
    # Trained on the shipped prompter read from some folder: the export names it "shipped", any other prompter keeps its folder.
    binding = tmp_path / "run" / "checkpoint" / "cache.json"
    for prompter_hash, expected in ((weights_hash(SHIPPED_ASSESSOR), SHIPPED_PROMPTER), ("0123456789abcdef", "/elsewhere/assessor")):
        write_binding(binding.parent, dataclasses.replace(FINGERPRINT, prompter_hash=prompter_hash, prompter_locator="/elsewhere/assessor"))
        assert read_binding(export_checkpoint(tmp_path / "run", out)).prompter_locator == expected
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match=r"mine holds notes.txt, which export did not write"):
        export_checkpoint(tmp_path / "run", mine)
    assert (mine / "notes.txt").read_text() == "keep me" and sorted(p.name for p in mine.iterdir()) == ["notes.txt"]


def test_export_binds_to_a_prompter_with_the_same_features_only(tmp_path, tiny_split, tiny_assessor):
    split, cache_dir, _ = tiny_split
    train(tiny_train_config(split, cache_dir, tiny_assessor, steps=2), tmp_path / "run")
    binding = tmp_path / "run" / "checkpoint" / "cache.json"
    trained_with = dataclasses.replace(FINGERPRINT, prompter_hash=weights_hash(tiny_assessor), prompter_locator=str(tiny_assessor))
    write_binding(binding.parent, trained_with)
    heads = load_assessor(tiny_assessor)
    with torch.no_grad():
        heads.presence.bias.add_(1.0)  # what train-prompter --heads-only changes
    save_assessor(heads, tmp_path / "heads")
    out = export_checkpoint(tmp_path / "run", tmp_path / "rebound", prompter=tmp_path / "heads")
    rebound = read_binding(out)
    assert rebound.prompter_hash == weights_hash(tmp_path / "heads") != weights_hash(tiny_assessor)
    assert rebound.prompter_locator == str((tmp_path / "heads").resolve())
    assert rebound.differences(FINGERPRINT) == [f"prompter_hash: {rebound.prompter_hash} != test-prompter"]
    with torch.no_grad():
        heads.project[0].weight.mul_(1.01)  # a retrained feature: the restorer would read vectors it never saw
    save_assessor(heads, tmp_path / "retrained")
    with pytest.raises(ConfigError, match="retrained: its image features differ"):
        export_checkpoint(tmp_path / "run", tmp_path / "refused", prompter=tmp_path / "retrained")
    assert not (tmp_path / "refused").exists()
    write_binding(binding.parent, dataclasses.replace(trained_with, prompter_hash="0123456789abcdef"))
    with pytest.raises(ConfigError, match="the prompter it was trained with .* is not in"):
        export_checkpoint(tmp_path / "run", tmp_path / "refused", prompter=tmp_path / "heads")


def test_clear_fraction_puts_identity_pairs_in_every_batch(tiny_split):
    from shared.cache import EmbeddingCache
    from shared.splits import resolve_split
    from stage2_restore.data import TrainingPairs
    from tests.stage2_restore.conftest import FINGERPRINT

    name, cache_dir, rows = tiny_split
    cache = EmbeddingCache(cache_dir / resolve_split(name).slug / FINGERPRINT.directory_name)
    pairs = TrainingPairs([(rows, cache)], ("clear", "low", "other"), negatives=0, clear_fraction=0.25)
    for step in range(5):
        batch = pairs.batch(np.random.default_rng(step), 8, 16)
        identical = (batch["degraded"] == batch["clean"]).flatten(1).all(dim=1)
        assert int(identical.sum()) >= 2  # 2 of 8 are clear by construction
    uniform = TrainingPairs([(rows, cache)], ("clear", "low", "other"), negatives=0)
    assert uniform.clear_fraction == 0.0
    cache.close()


def test_misdirected_rows_are_clean_photos_guided_by_a_degraded_version_of_themselves(tiny_split):
    from shared.cache import EmbeddingCache
    from shared.splits import resolve_split
    from stage2_restore.data import TrainingPairs
    from tests.stage2_restore.conftest import FINGERPRINT

    name, cache_dir, rows = tiny_split
    cache = EmbeddingCache(cache_dir / resolve_split(name).slug / FINGERPRINT.directory_name)
    pairs = TrainingPairs([(rows, cache)], ("clear", "low", "other"), negatives=0, clear_fraction=0.25, misdirected_fraction=0.25)
    vector_of = {(r.image_id, r.category): pairs.inputs[i].embedding for i, r in enumerate(pairs.rows)}
    for step in range(5):
        drawn = pairs._draw(np.random.default_rng(step), 8)
        misdirected = [(pairs.rows[i], pairs.rows[g]) for i, g in drawn if i != g]
        assert len(misdirected) == 2
        assert all(row.category == "clear" and guide.category != "clear" and guide.image_id == row.image_id for row, guide in misdirected)
        assert sum(pairs.rows[i].category == "clear" for i, g in drawn if i == g) >= 2
        batch = pairs.batch(np.random.default_rng(step), 8, 16)
        assert bool((batch["degraded"][-2:] == batch["clean"][-2:]).all())  # the input is the clean photo itself
        guided = [pairs.inputs[g].class_index for i, g in drawn if i != g]
        assert batch["class_index"][-2:].tolist() == guided
        for (row, guide), embedding in zip(misdirected, batch["embedding"][-2:], strict=True):
            assert np.array_equal(embedding.numpy(), vector_of[(guide.image_id, guide.category)])
            assert not np.array_equal(embedding.numpy(), vector_of[(row.image_id, "clear")])
    # Without the option the batches are the ones runs drew before it existed, so resuming an older run sees the same data.
    plain = TrainingPairs([(rows, cache)], ("clear", "low", "other"), negatives=0, clear_fraction=0.25)
    rng = np.random.default_rng(0)
    before = [plain.clear[i] for i in rng.integers(0, len(plain.clear), size=2)]
    before += [plain.degraded[i] for i in rng.integers(0, len(plain.degraded), size=6)]
    assert plain._draw(np.random.default_rng(0), 8) == [(i, i) for i in before]
    # Misdirected rows alone: clear photos with their own vector keep their natural share.
    alone = TrainingPairs([(rows, cache)], ("clear", "low", "other"), negatives=0, misdirected_fraction=0.25)
    honest = [alone.rows[i].category for step in range(20) for i, g in alone._draw(np.random.default_rng(step), 8) if i == g]
    assert "clear" in honest
    cache.close()


def test_overcalled_rows_are_degraded_photos_guided_by_a_worse_version_of_themselves(tmp_path):
    from shared.cache import EmbeddingCache
    from shared.pairs import SynthesisConfig, build_pairs
    from stage2_restore.data import TrainingPairs
    from tests.conftest import write_photo

    for i in range(3):
        write_photo(tmp_path / "photos" / f"p{i}.png", 40, 48, seed=i)
    split = resolve_split(f"folder:{tmp_path / 'photos'}")
    config = SynthesisConfig(seed=0, categories=("clear", "low", "noise", "low_noise", "haze"), max_side=64)
    rows = build_pairs(split, tmp_path / "cache", config).rows
    write_cache(rows, tmp_path / "cache" / split.slug / FINGERPRINT.directory_name)
    cache = EmbeddingCache(tmp_path / "cache" / split.slug / FINGERPRINT.directory_name)
    pairs = TrainingPairs([(rows, cache)], ("clear", "low", "other"), negatives=0, clear_fraction=0.25, overcalled_fraction=0.25)
    # low and noise each have a worse version (low_noise); low_noise and haze have none, so they are never overcalled.
    assert sorted({pairs.rows[i].category for i in pairs.overcallable}) == ["low", "noise"]
    for step in range(5):
        drawn = pairs._draw(np.random.default_rng(step), 8)
        overcalled = [(pairs.rows[i], pairs.rows[g]) for i, g in drawn if i != g]
        assert len(overcalled) == 2
        assert all(guide.category == "low_noise" and guide.image_id == row.image_id for row, guide in overcalled)
        batch = pairs.batch(np.random.default_rng(step), 8, 16)
        for k in (-2, -1):  # each a degraded input with its own clean target
            assert not bool((batch["degraded"][k] == batch["clean"][k]).all())
        assert batch["class_index"][-2:].tolist() == [pairs.inputs[g].class_index for i, g in drawn if i != g]
        for (row, guide), embedding in zip(overcalled, batch["embedding"][-2:], strict=True):
            assert np.array_equal(embedding.numpy(), pairs.inputs[pairs.rows.index(guide)].embedding)
            assert not np.array_equal(embedding.numpy(), pairs.inputs[pairs.rows.index(row)].embedding)
    # With misdirected rows too: each replacement keeps its kind.
    both = TrainingPairs([(rows, cache)], ("clear", "low", "other"), negatives=0, misdirected_fraction=0.25, overcalled_fraction=0.25)
    kinds = [(both.rows[i].category == "clear", i != g) for i, g in both._draw(np.random.default_rng(0), 8)]
    assert kinds[-4:] == [(True, True)] * 2 + [(False, True)] * 2
    rng = np.random.default_rng(0)
    for index, guide in both._draw(np.random.default_rng(0), 8)[-4:]:
        row, new_guide = both._replacement(index, guide, rng)
        if both.rows[index].category == "clear":
            assert both.rows[row].category == "clear" and both.scene_of[new_guide] == both.scene_of[row] and new_guide != row
        else:
            assert row in both.overcallable and new_guide in both.worse_versions[row]
    # Without the option the batches are the ones runs drew before it existed.
    plain = TrainingPairs([(rows, cache)], ("clear", "low", "other"), negatives=0, clear_fraction=0.25)
    rng = np.random.default_rng(3)
    before = [plain.clear[i] for i in rng.integers(0, len(plain.clear), size=2)]
    before += [plain.degraded[i] for i in rng.integers(0, len(plain.degraded), size=6)]
    assert plain._draw(np.random.default_rng(3), 8) == [(i, i) for i in before]
    with pytest.raises(ConfigError, match=r"overcalled_fraction 0.5, .* each at least 0, together at most 1"):
        TrainConfig(clear_fraction=0.6, overcalled_fraction=0.5)
    # No row with a worse version: the share falls back to ordinary rows.
    maximal = [row for row in rows if row.category in ("clear", "haze", "low_noise")]
    assert TrainingPairs([(maximal, cache)], ("clear", "low", "other"), overcalled_fraction=0.5).overcalled_fraction == 0.0
    cache.close()


def test_focus_weights_up_the_degraded_pairs_of_one_label_from_every_split(tiny_split):
    from shared.cache import EmbeddingCache
    from shared.splits import resolve_split
    from stage2_restore.data import TrainingPairs
    from stage2_restore.train import TrainConfig
    from tests.stage2_restore.conftest import FINGERPRINT

    name, cache_dir, rows = tiny_split  # 4 photos x (clear, low, haze_rain, snow)
    cache = EmbeddingCache(cache_dir / resolve_split(name).slug / FINGERPRINT.directory_name)
    pairs = TrainingPairs([(rows, cache)], ("clear", "low", "other"), negatives=0, clear_fraction=0.25, focus=("low", 0.5))
    assert sorted(pairs.rows[i].category for i in pairs.focused) == ["low"] * 4
    for step in range(5):
        drawn = [pairs.rows[i].category for i, _ in pairs._draw(np.random.default_rng(step), 8)]
        assert drawn.count("low") >= 4 and drawn.count("clear") >= 2
    unfocused = TrainingPairs([(rows, cache)], ("clear", "low", "other"), negatives=0, clear_fraction=0.25, focus=("low", 0.0))
    plain = TrainingPairs([(rows, cache)], ("clear", "low", "other"), negatives=0, clear_fraction=0.25)
    assert unfocused._draw(np.random.default_rng(0), 8) == plain._draw(np.random.default_rng(0), 8)  # no share, no change
    cache.close()
    with pytest.raises(ConfigError, match="focus_label 'dark': unknown; choose one of low, haze, rain, snow, noise, blur"):
        TrainConfig(focus_label="dark", focus_fraction=0.2)
    with pytest.raises(ConfigError, match="focus_fraction 0.5 and extra_fractions \\[\\]: each at least 0, together at most 1"):
        TrainConfig(clear_fraction=0.6, focus_label="low", focus_fraction=0.5)


def test_clear_fraction_outside_zero_to_one_is_refused():
    from shared.errors import ConfigError
    from stage2_restore.train import TrainConfig

    with pytest.raises(ConfigError, match="clear_fraction 1.5: must be between 0 and 1"):
        TrainConfig(clear_fraction=1.5)


def test_true_prompt_vectors_are_never_picked_for_training(tiny_split, tiny_assessor):
    split, cache_dir, rows = tiny_split
    oracle = true_prompt_fingerprint(FINGERPRINT)
    write_cache(rows, cache_dir / resolve_split(split).slug / oracle.directory_name, oracle)
    config = tiny_train_config(split, cache_dir, tiny_assessor)
    assert find_cache(config).name == FINGERPRINT.directory_name
    assert FINGERPRINT.differences(oracle) == [f"prompt_template: test template != test template{TRUE_PROMPTS[:50]}"]


def test_an_extra_split_is_trained_on_alongside_from_its_own_matching_cache(tmp_path, tiny_split, tiny_assessor):
    from shared.cache import EmbeddingCache
    from shared.pairs import SynthesisConfig, build_pairs, pairs_dir, read_pairs
    from stage2_restore.data import TrainingPairs
    from stage2_restore.train import matching_cache

    split, cache_dir, rows = tiny_split
    close = f"closeup:{tmp_path / 'photos'}"
    close_rows = build_pairs(resolve_split(close), cache_dir, SynthesisConfig(seed=0, categories=("clear", "low"), max_side=64)).rows
    assert {r.image_id for r in close_rows} == {f"p{i}-closeup" for i in range(4)}
    config = tiny_train_config(split, cache_dir, tiny_assessor, extra_splits=(close,))
    with pytest.raises(ConfigError, match=r"no embeddings .*`restore-embed build --split closeup:\S+ --cache-dir \S+ --encoder local`"):
        train(config, tmp_path / "refused")
    shipped = dataclasses.replace(FINGERPRINT, prompter_locator="shipped")  # the packaged prompter needs no --prompter
    with pytest.raises(ConfigError, match=r"--encoder local`$"):
        matching_cache(close, dataclasses.replace(config, cache_dir=str(cache_dir)), shipped)
    other = dataclasses.replace(FINGERPRINT, prompter_hash="another-prompter")
    write_cache(close_rows, cache_dir / resolve_split(close).slug / other.directory_name, other)  # another prompter's: not used
    write_cache(close_rows, cache_dir / resolve_split(close).slug / FINGERPRINT.directory_name, seed=1)
    assert matching_cache(close, config, FINGERPRINT).name == FINGERPRINT.directory_name

    main = EmbeddingCache(cache_dir / resolve_split(split).slug / FINGERPRINT.directory_name)
    extra = EmbeddingCache(matching_cache(close, config, FINGERPRINT))
    both = TrainingPairs([(rows, main), (read_pairs(pairs_dir(cache_dir, resolve_split(close))), extra)], ("clear", "low", "other"))
    assert len(both) == len(rows) + len(close_rows) == 16 + 8 and both.missing == 0
    assert {r.image_id for r in both.rows if r.category == "clear"} == {f"p{i}" for i in range(4)} | {f"p{i}-closeup" for i in range(4)}
    # --extra-fraction: half of every batch from the close-ups' degraded rows (4 here), however few they are.
    weighted = TrainingPairs([(rows, main), (read_pairs(pairs_dir(cache_dir, resolve_split(close))), extra)], ("clear", "low", "other"),
                             clear_fraction=0.25, extra_fractions=(0.5,))  # fmt: skip
    for step in range(5):
        drawn = [weighted.rows[i] for i, _ in weighted._draw(np.random.default_rng(step), 8)]
        assert sum(r.image_id.endswith("-closeup") and r.category != "clear" for r in drawn) >= 4
        assert sum(r.category == "clear" for r in drawn) >= 2
    unweighted_clear = TrainingPairs([(rows, main), (read_pairs(pairs_dir(cache_dir, resolve_split(close))), extra)],
                                     ("clear", "low", "other"), extra_fractions=(0.25,))  # fmt: skip
    drawn = [unweighted_clear.rows[i] for step in range(40) for i, _ in unweighted_clear._draw(np.random.default_rng(step), 8)]
    assert sum(r.category == "clear" for r in drawn) > 0  # without a clear fraction, clear rows keep their natural share
    with pytest.raises(ConfigError, match="1 extra fraction.*for 0 extra split"):
        dataclasses.replace(config, extra_splits=(), extra_fractions=(0.5,))
    with pytest.raises(ConfigError, match="together at most 1"):
        dataclasses.replace(config, clear_fraction=0.6, extra_fractions=(0.5,))
    with pytest.raises(ConfigError, match=r"misdirected_fraction 0.5, .* and extra_fractions \[0.5\]: each at least 0"):
        dataclasses.replace(config, clear_fraction=0.25, misdirected_fraction=0.5, extra_fractions=(0.5,))
    twice = TrainingPairs([(rows, main), (rows, main)], ("clear", "low", "other"))  # the same ids in two splits: two scenes each
    assert len(twice.scenes) == 2 * 4 and all(len(scene) == 3 for scene in twice.scenes.values())  # low, haze_rain, snow
    main.close(), extra.close()
    result = train(config, tmp_path / "run")
    assert Restorer.from_pretrained(result.checkpoint).config.embedding_dim == 16
    assert json.loads((tmp_path / "run" / "train_config.json").read_text())["extra_splits"] == [close]
