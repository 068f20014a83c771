"""BENCHMARKS.md rendering: arithmetic from public configs, ratios from the measured numbers (no timing asserted)."""
# ruff: noqa: E501  (the measured-numbers fixtures read best one record per line)

import pytest

from stage2_restore.bench_report import e5v_memory, render

STAGE1 = {
    "quick": True,
    "build": [{"batch": b, "images": 40, "seconds": 1.0, "images_per_s": 40.0, "shard_mb_per_1000": 2.0} for b in (1, 8, 32)],
    "phases": {"decode_ms": 10.0, "assess_ms": 5.0, "embed_recomputing_features_ms": 6.0, "embed_reusing_features_ms": 0.01},
    "hdf5": [{"dim": 512, "rows": 1024, "mb": 1.3, "seconds": 0.02, "mb_per_s": 65.0},
             {"dim": 4096, "rows": 1024, "mb": 8.6, "seconds": 0.02, "mb_per_s": 430.0}],
    "e5v_tiny": [{"quant": "none", "images": 8, "seconds": 2.0, "images_per_s": 4.0}],
    "sharded": [{"workers": 1, "images": 100, "wall_s": 10.0, "fixed_s": 5.0, "complete": True, "images_per_s": 10.0, "images_per_s_after_startup": 20.0},
                {"workers": 2, "images": 100, "wall_s": 7.5, "fixed_s": 5.0, "complete": True, "images_per_s": 13.3, "images_per_s_after_startup": 40.0}],
}  # fmt: skip
STAGE2 = {
    "matmul_gflops": 100.0,
    "models": [{"name": "w16", "width": 16, "parameters": 3.2e6, "macs_per_mp": 47e9}, {"name": "w32", "width": 32, "parameters": 5.9e6, "macs_per_mp": 177e9}],
    "train": [{"width": 16, "crop": 128, "batch": 8, "steps_timed": 3, "seconds_per_step": 2.0, "steps_per_s": 0.5, "data_seconds": 0.02, "data_fraction": 0.01}],
    "inference": [{"size": 1024, "width": 16, "tile": 512, "seconds": 10.0, "megapixels_per_s": 0.1, "peak_rss_mb": 600, "rss_before_image_mb": 360,
                   "repeats": 1, "tiles": 9, "tile_megapixels": 1.22, "tiles_fixed_stride": 9, "tile_megapixels_fixed_stride": 2.36}],
    "inference_untiled": [{"size": 1024, "seconds": 9.0, "peak_rss_mb": 1400}],
    "inference_layout": [{"layout": "NCHW", "seconds": 3.0}, {"layout": "NHWC", "seconds": 2.0}],
    "profile": {layout: [{"op": "aten::mkldnn_convolution", "self_ms": 250.0, "share": 0.5, "calls": 98}] for layout in ("NCHW", "NHWC")},
    "ddp": [{"processes": 1, "batch_per_process": 4, "crop": 96, "seconds_per_step": 0.4, "samples_per_s": 10.0, "wall_s": 10},
            {"processes": 2, "batch_per_process": 4, "crop": 96, "seconds_per_step": 0.5, "samples_per_s": 16.0, "wall_s": 12}],
}  # fmt: skip


def test_e5v_memory_arithmetic_matches_llama3_8b():
    memory = e5v_memory()
    assert memory["weights_total_gb"] == pytest.approx(5.87, abs=0.05)  # 7.3 B params at 4.127 bits + two bf16 vocab matrices
    assert memory["tokens"] == 2988 and memory["activation_gb_per_image"] == pytest.approx(0.355, abs=0.01)


def test_report_turns_measurements_into_ratios():
    text = render(STAGE1, STAGE2, "just bench --quick")
    assert "| 2 | 7.5 | 13.3 | 5.0 | 40.0 | 100 % |" in text  # 2 workers at twice the after-start-up rate
    assert "| 2 | 0.50 | 16.0 | 80 % |" in text  # DDP: 16 / (2 x 10)
    assert "9.4 | 9 %" in text  # 2 x 47 GMAC/MP x 0.1 MP/s = 9.4 GFLOP/s of a 100 GFLOP/s peak
    assert "1.0 % at w16 128² b8" in text and "`just bench --quick`" in text
    assert "| 512² restore, seconds | torch.profiler | 3.00 | 2.00 |" in text


def test_verdicts_follow_the_numbers_not_the_prose():
    assert "under the 5 % budget, so the loader needs no worker processes" in render(STAGE1, STAGE2, "just bench")
    slow_loader = {**STAGE2, "train": [{**STAGE2["train"][0], "data_fraction": 0.2}]}
    assert "over the 5 % budget: the loader needs worker processes" in render(STAGE1, slow_loader, "just bench")
    assert "channels_last (NHWC) oneDNN runs them 33 % faster" in render(STAGE1, STAGE2, "just bench")
