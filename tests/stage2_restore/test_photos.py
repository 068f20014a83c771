"""`restore`: a user's photos through real stage one (subprocess, shipped prompter, local embedder) and a tiny restorer."""

from __future__ import annotations

import shutil

import numpy as np
import png
import pytest
import torch
from PIL import Image

from shared.cache import EmbeddingRecord
from shared.errors import ConfigError
from shared.image_io import load_image
from stage2_restore import photos
from stage2_restore.network import Restorer, RestorerConfig
from stage2_restore.photos import (
    SHIPPED_RESTORER,
    PhotoJob,
    RestoreOptions,
    _restore_one,
    caution_of,
    is_confidently_clear,
    plan_jobs,
    restoration_share,
    restore_photos,
)
from tests.cli_helpers import run_cli
from tests.conftest import write_photo


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """A random tiny restorer that reads the shipped embedder's vectors (512-d local, shipped prompter)."""
    torch.manual_seed(0)
    directory = tmp_path_factory.mktemp("restorer")
    Restorer(RestorerConfig(width=8, heads=2, descriptor_tokens=2, embedding_dim=512)).save_pretrained(directory, half=True)
    shutil.copy(SHIPPED_RESTORER / "cache.json", directory / "cache.json")
    return directory


def test_plan_jobs_file_folder_and_refusals(tmp_path):
    photo = write_photo(tmp_path / "in" / "a.jpg")
    write_photo(tmp_path / "in" / "sub" / "b.png")
    assert plan_jobs(photo, tmp_path / "x.tif") == [PhotoJob(photo, tmp_path / "x.tif")]
    assert plan_jobs(photo, tmp_path / "outdir")[0].output == tmp_path / "outdir" / "a.restored.png"
    jobs = plan_jobs(tmp_path / "in", tmp_path / "in" / "restored")
    assert [j.output.relative_to(tmp_path / "in" / "restored").as_posix() for j in jobs] == ["a.png", "sub/b.png"]
    (tmp_path / "in" / "restored").mkdir()
    write_photo(tmp_path / "in" / "restored" / "a.png")  # an earlier output is never taken as an input
    assert len(plan_jobs(tmp_path / "in", tmp_path / "in" / "restored")) == 2
    write_photo(tmp_path / "in" / "sub" / "b.jpg")  # same name, another format: both outputs must survive
    jobs = plan_jobs(tmp_path / "in" / "sub", tmp_path / "out")
    assert [j.output.relative_to(tmp_path / "out").as_posix() for j in jobs] == ["b.jpg.png", "b.png.png"]
    assert len(plan_jobs(tmp_path / "in" / "sub", tmp_path / "in")) == 2  # an output folder above the photos hides none of them
    with pytest.raises(ConfigError, match="choose another output folder"):
        plan_jobs(tmp_path / "in", tmp_path / "in")
    with pytest.raises(ConfigError, match="no such file"):
        plan_jobs(tmp_path / "missing.jpg", tmp_path / "o.png")
    with pytest.raises(ConfigError, match=r"cannot write \.xyz"):
        plan_jobs(photo, tmp_path / "o.xyz")
    with pytest.raises(ConfigError, match="must be between 0 and 1"):
        RestoreOptions(strength=1.5)
    with pytest.raises(ConfigError, match="--sure 0.4"):
        RestoreOptions(sure=0.4)


def test_caution_restores_less_the_less_sure_the_prompter_is():
    assert [caution_of(c, 0.75) for c in (0.5, 0.625, 0.75, 0.9, 1.0)] == pytest.approx([0.0, 0.5, 1.0, 1.0, 1.0])
    assert caution_of(0.5, 0.5) == 1.0 and caution_of(0.99, 1.0) == pytest.approx(0.98)  # 0.5: always in full


def _sixteen_bit_png(path, height=20, width=28):
    rng = np.random.default_rng(3)
    values = rng.integers(0, 65535, (height, width * 3), dtype=np.uint16)
    with open(path, "wb") as handle:
        png.Writer(width, height, bitdepth=16, greyscale=False).write(handle, values)
    return path


def test_folder_run_keeps_formats_survives_a_bad_file_and_resumes(tmp_path, tiny_checkpoint):
    src = tmp_path / "photos"
    write_photo(src / "plain.jpg", 40, 56, seed=1)
    _sixteen_bit_png(src / "deep.png")
    rgba = np.dstack([np.asarray(Image.open(write_photo(src / "tmp.png", 30, 30, seed=2))), np.full((30, 30), 128, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(src / "alpha.png")
    (src / "tmp.png").unlink()
    rotated = Image.open(write_photo(src / "tmp.png", 24, 40, seed=4))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    rotated.save(src / "rotated.jpg", exif=exif)
    (src / "tmp.png").unlink()
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")

    jobs = plan_jobs(src, tmp_path / "out")
    results = {r.job.source.name: r for r in restore_photos(jobs, tiny_checkpoint, RestoreOptions(compare=True, keep_clear=1.01))}
    assert {name: r.status for name, r in results.items()} == {
        "alpha.png": "restored", "broken.png": "failed", "deep.png": "restored", "plain.jpg": "restored", "rotated.jpg": "restored",
    }  # fmt: skip
    assert "broken.png" in results["broken.png"].error
    assert all(r.prompt.startswith("a ") for r in results.values() if r.status == "restored")
    out = tmp_path / "out"
    assert load_image(out / "deep.png").bit_depth == 16
    assert load_image(out / "alpha.png").alpha is not None
    np.testing.assert_allclose(load_image(out / "alpha.png").alpha, 128 / 255, atol=1e-6)
    assert load_image(out / "rotated.png").size == (24, 40)  # displayed orientation: portrait
    assert load_image(out / "plain.png").size == (56, 40)
    assert (out / "plain.compare.png").is_file()

    # Second run: finished photos are kept, only the broken one is tried again.
    (src / "broken.png").unlink()
    write_photo(src / "broken.png", seed=9)
    before = (out / "plain.png").stat().st_mtime_ns
    again = {r.job.source.name: r.status for r in restore_photos(plan_jobs(src, out), tiny_checkpoint)}
    assert again["broken.png"] == "restored" and again["plain.jpg"] == "exists"
    assert (out / "plain.png").stat().st_mtime_ns == before


def test_a_compare_image_it_did_not_write_is_kept_and_one_failing_photo_does_not_stop_the_rest(tmp_path, tiny_checkpoint, monkeypatch):
    src, out = tmp_path / "in", tmp_path / "out"
    write_photo(src / "a.png", seed=1)
    write_photo(src / "c.png", seed=3)
    out.mkdir()
    (out / "a.compare.png").write_bytes(b"the user's own file")
    real_restore = photos.restore_loaded

    def out_of_memory_on_b(model, rgb, record, *args):
        if rgb.shape[:2] == (40, 56):
            raise RuntimeError("DefaultCPUAllocator: not enough memory")
        return real_restore(model, rgb, record, *args)

    write_photo(src / "b.png", 40, 56, seed=2)
    monkeypatch.setattr(photos, "restore_loaded", out_of_memory_on_b)
    options = RestoreOptions(compare=True, keep_clear=1.01)
    results = {r.job.source.name: r for r in restore_photos(plan_jobs(src, out), tiny_checkpoint, options)}
    assert results["a.png"].status == "failed" and "a.compare.png exists" in results["a.png"].error
    assert (out / "a.compare.png").read_bytes() == b"the user's own file" and not (out / "a.png").exists()
    assert results["b.png"].status == "failed" and "out of memory; try a smaller --tile" in results["b.png"].error
    assert results["c.png"].status == "restored" and (out / "c.png").is_file() and (out / "c.compare.png").is_file()


def test_strength_zero_returns_the_input_and_prompt_steers(tmp_path, tiny_checkpoint):
    photo = write_photo(tmp_path / "p.png", 32, 32, seed=5)
    [result] = restore_photos(
        [PhotoJob(photo, tmp_path / "o.png")], tiny_checkpoint, RestoreOptions(strength=0.0, prompt="dense fog and light rain at night")
    )
    assert result.prompt.startswith("a photo taken in ") and result.prompt.endswith("light, with dense haze and light rain")
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "o.png")), np.asarray(Image.open(photo)))


def test_cli_reports_failures_exit_1_and_keeps_existing_outputs(tmp_path, tiny_checkpoint):
    src = tmp_path / "in"
    write_photo(src / "good.png", seed=1)
    (src / "bad.jpg").write_text("not an image")
    args = (str(src), "-o", str(tmp_path / "out"), "--checkpoint", str(tiny_checkpoint))
    first = run_cli("restore", *args)
    assert first.returncode == 1, first.stderr
    assert "1 failed" in first.stdout and ("1 restored, 0 clear" in first.stdout or "0 restored, 1 clear" in first.stdout)
    assert "bad.jpg" in first.stderr and "Traceback" not in first.stderr
    second = run_cli("restore", *args)
    assert "0 restored, 0 clear (written unchanged), 1 already there (kept), 1 failed" in second.stdout and "--overwrite" in second.stdout

    bad_prompt = run_cli("restore", str(src / "good.png"), "-o", str(tmp_path / "x.png"), "--checkpoint", str(tiny_checkpoint),
                         "--prompt", "make it pretty")  # fmt: skip
    assert bad_prompt.returncode != 0 and "names no degradation" in bad_prompt.stderr
    assert len(bad_prompt.stderr.strip().splitlines()) == 1
    bad_sure = run_cli("restore", str(src / "good.png"), "-o", str(tmp_path / "y.png"), "--sure", "0.3")
    assert bad_sure.returncode != 0 and bad_sure.stderr.strip() == "error: --sure 0.3: must be between 0.5 (always restore in full) and 1"


def _record(labels, probabilities, dim=4):
    return EmbeddingRecord("x/photo", np.full(dim, dim**-0.5, np.float32), "p", np.array(labels, np.uint8), np.zeros(6, np.float32), {},
                           np.array(probabilities, np.float32))  # fmt: skip


def test_only_a_confidently_clear_photo_is_left_alone():
    assert is_confidently_clear(_record([0] * 6, [0.1, 0.05, 0.0, 0.0, 0.15, 0.0]), 0.8)
    assert not is_confidently_clear(_record([0] * 6, [0.45, 0.05, 0.0, 0.0, 0.0, 0.0]), 0.8)  # unsure about low light
    assert not is_confidently_clear(_record([1, 0, 0, 0, 0, 0], [0.99, 0.0, 0.0, 0.0, 0.0, 0.0]), 0.8)


def test_a_photo_called_clear_is_written_back_unchanged_unless_the_prompter_nearly_saw_a_degradation(tmp_path, tiny_checkpoint):
    photo = write_photo(tmp_path / "p.png", 40, 56, seed=3)
    model = Restorer.from_pretrained(tiny_checkpoint)
    dim = model.config.embedding_dim
    vectors = {"sure/photo": _record([0] * 6, [0.05] * 6, dim), "unsure/photo": _record([0] * 6, [0.35] + [0.05] * 5, dim),
               "nearly/photo": _record([0] * 6, [0.45] + [0.05] * 5, dim)}  # fmt: skip
    sure = _restore_one(model, vectors, "sure/photo", {}, PhotoJob(photo, tmp_path / "sure.png"), RestoreOptions())
    assert sure.status == "clear" and sure.confidence == pytest.approx(0.95)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "sure.png")), np.asarray(Image.open(photo)))
    unsure = _restore_one(model, vectors, "unsure/photo", {}, PhotoJob(photo, tmp_path / "unsure.png"), RestoreOptions())
    assert unsure.status == "clear" and unsure.confidence == pytest.approx(0.65)  # above the default --keep-clear (0.6)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "unsure.png")), np.asarray(Image.open(photo)))
    nearly = _restore_one(model, vectors, "nearly/photo", {}, PhotoJob(photo, tmp_path / "nearly.png"), RestoreOptions())
    assert nearly.status == "restored" and nearly.applied == 1.0  # 0.45 low light: below --keep-clear, restored in full
    wary = _restore_one(model, vectors, "unsure/photo", {}, PhotoJob(photo, tmp_path / "wary.png"), RestoreOptions(keep_clear=0.8))
    assert wary.status == "restored" and wary.applied == 1.0
    steered = _restore_one(model, vectors, "sure/photo", {}, PhotoJob(photo, tmp_path / "steer.png"), RestoreOptions(prompt="haze"))
    assert steered.status == "restored" and steered.applied == 1.0  # the user's words override keep-clear and caution


def test_a_doubtful_degradation_is_restored_only_in_part(tmp_path, tiny_checkpoint):
    photo = write_photo(tmp_path / "p.png", 40, 56, seed=3)
    model = Restorer.from_pretrained(tiny_checkpoint)
    dim = model.config.embedding_dim
    doubtful = {"blur/photo": _record([0, 0, 0, 0, 0, 1], [0.1, 0.1, 0.0, 0.0, 0.2, 0.6], dim)}
    result = _restore_one(model, doubtful, "blur/photo", {}, PhotoJob(photo, tmp_path / "part.png"), RestoreOptions(sure=0.75))
    assert result.status == "restored" and result.applied == pytest.approx(0.4)  # 0.6 is 40 % of the way from 0.5 to 0.75
    full = _restore_one(model, doubtful, "blur/photo", {}, PhotoJob(photo, tmp_path / "full.png"), RestoreOptions(sure=0.5))
    assert full.applied == 1.0
    before, after, blended = (np.asarray(Image.open(p), np.float64) for p in (photo, tmp_path / "full.png", tmp_path / "part.png"))
    np.testing.assert_allclose(blended, 0.4 * after + 0.6 * before, atol=1.01)  # each output rounded to 8 bits
    assert restoration_share(_record([1, 0, 0, 0, 0, 1], [0.97, 0.0, 0.0, 0.0, 0.0, 0.6], dim), 0.8, 0.75) == 1.0  # sure of low light
    half = _restore_one(model, doubtful, "blur/photo", {}, PhotoJob(photo, tmp_path / "half.png"), RestoreOptions(strength=0.5, sure=0.75))
    assert half.applied == pytest.approx(0.2)  # --strength scales what caution leaves
    steered = _restore_one(model, doubtful, "blur/photo", {}, PhotoJob(photo, tmp_path / "s.png"), RestoreOptions(prompt="blur"))
    assert steered.applied == 1.0


def test_restore_app_refuses_a_checkpoint_it_could_not_serve_before_starting(tmp_path, tiny_checkpoint):
    half = tmp_path / "half"
    half.mkdir()
    shutil.copy(tiny_checkpoint / "config.json", half / "config.json")
    refused = run_cli("restore-app", "--checkpoint", str(half))
    assert refused.returncode == 1 and "no cache.json" in refused.stderr and "Traceback" not in refused.stderr
    shutil.copy(tiny_checkpoint / "cache.json", half / "cache.json")
    refused = run_cli("restore-app", "--checkpoint", str(half))
    assert refused.returncode == 1 and "no model.safetensors" in refused.stderr
