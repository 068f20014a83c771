"""Stage two's benchmark numbers (JSON for BENCHMARKS.md): matmul peak, train steps, inference speed and memory, DDP.

Run from the repository root after `restore-embed build --split demo`:
`python -m stage2_restore.bench --out cache/bench/stage2.json [--quick]`. Timings are medians.
"""

from __future__ import annotations

import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import typer

from shared.cli import console, run_app
from shared.fileio import atomic_write_text
from stage2_restore.inference import restore_image, tile_spans
from stage2_restore.network import Restorer, RestorerConfig, count_parameters, macs_per_image
from stage2_restore.photos import SHIPPED_RESTORER
from stage2_restore.train import TrainConfig, train

app = typer.Typer(add_completion=False)


def matmul_peak(repeats: int, size: int = 2048) -> float:
    """This machine's fp32 matmul GFLOP/s with torch's threads: the ceiling for achieved-FLOP fractions."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - start)
    return 2 * size**3 / statistics.median(times) / 1e9


def train_speed(width: int, crop: int, batch: int, steps: int) -> dict:
    """Median seconds per step of the real trainer on the demo cache, and the data-loading share of it."""
    logs = []
    config = TrainConfig(split="demo", crop=crop, batch_size=batch, steps=steps, warmup_steps=1, checkpoint_every=10**6,
                         restorer=RestorerConfig(width=width))  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-train-") as run:
        train(config, run, on_step=logs.append)
    timed = logs[2:]  # the first steps allocate and warm caches
    step = statistics.median(log.seconds for log in timed)
    data = statistics.median(log.data_seconds for log in timed)
    return {"width": width, "crop": crop, "batch": batch, "steps_timed": len(timed), "seconds_per_step": step,
            "steps_per_s": 1 / step, "data_seconds": data, "data_fraction": data / step}  # fmt: skip


def profile_forward(channels_last: bool, size: int = 256, top: int = 5) -> list[dict]:
    """torch.profiler's top operators (self CPU time) of one shipped-restorer forward pass at size²."""
    from torch.profiler import ProfilerActivity, profile

    layout = torch.channels_last if channels_last else torch.contiguous_format
    model = Restorer.from_pretrained(SHIPPED_RESTORER).to(memory_format=layout)
    image = torch.rand(1, 3, size, size).contiguous(memory_format=layout)
    embedding = torch.zeros(1, model.config.embedding_dim)
    with torch.no_grad():
        model(image, embedding)
        with profile(activities=[ProfilerActivity.CPU]) as profiler:
            model(image, embedding)
    events = sorted(profiler.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events)
    return [{"op": e.key, "self_ms": e.self_cpu_time_total / 1000, "share": e.self_cpu_time_total / total, "calls": e.count}
            for e in events[:top]]  # fmt: skip


def _peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited from the forking parent)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: KiB on most systems


def inference_once(size: int, width: int, tile: int, repeats: int, channels_last: bool = True) -> dict:
    """Seconds and peak RSS of restoring one size x size image (run in a fresh process so RSS is its own)."""
    model = Restorer.from_pretrained(SHIPPED_RESTORER) if width == 0 else Restorer(RestorerConfig(width=width)).eval()
    from stage2_restore.data import DescriptorInputs

    inputs = DescriptorInputs(np.zeros(model.config.embedding_dim, np.float32), 0)
    restore_image(model, np.random.default_rng(0).random((64, 64, 3), dtype=np.float32), inputs, tile, channels_last=channels_last)
    baseline = _peak_rss_mb()
    image = np.random.default_rng(1).random((size, size, 3), dtype=np.float32)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        restore_image(model, image, inputs, tile, channels_last=channels_last)
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    spans = tile_spans(size, tile, 32)
    before = len(range(0, size - tile, tile - 32)) + 1 if size > tile else 1  # the fixed-stride plan this commit replaced
    return {
        "size": size, "width": model.config.width, "tile": tile, "layout": "NHWC" if channels_last else "NCHW",
        "seconds": seconds, "megapixels_per_s": size * size / 1e6 / seconds,
        "peak_rss_mb": _peak_rss_mb(), "rss_before_image_mb": baseline, "repeats": repeats,
        "tiles": len(spans) ** 2, "tile_megapixels": sum(s for _, s in spans) ** 2 / 1e6,
        "tiles_fixed_stride": before**2, "tile_megapixels_fixed_stride": (before * min(size, tile)) ** 2 / 1e6,
    }  # fmt: skip


def inference_in_subprocess(size: int, width: int, tile: int, repeats: int, channels_last: bool = True) -> dict:
    command = [sys.executable, "-m", "stage2_restore.bench", "infer", "--size", str(size), "--width", str(width), "--tile", str(tile),
               "--repeats", str(repeats), "--channels-last" if channels_last else "--no-channels-last"]  # fmt: skip
    finished = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(finished.stdout.strip().splitlines()[-1])


def ddp_speed(processes: int, steps: int, batch: int = 4, crop: int = 96) -> dict:
    """samples/s of torchrun with `processes` CPU processes (gloo, one thread each) on the demo cache."""
    with tempfile.TemporaryDirectory(prefix="bench-ddp-") as run:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}",
                   "-m", "stage2_restore.cli_train", "run", "--split", "demo", "--steps", str(steps), "--batch-size", str(batch),
                   "--crop", str(crop), "--width", "16", "--threads", "1", "--checkpoint-every", "1000000", "--out", run]  # fmt: skip
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        start = time.perf_counter()
        finished = subprocess.run(command, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - start
        if finished.returncode:
            raise RuntimeError(f"torchrun failed: {finished.stderr.strip().splitlines()[-3:]}")
        with open(Path(run) / "log.csv") as handle:
            seconds = [float(row["seconds"]) for row in csv.DictReader(handle)][2:]
    step = statistics.median(seconds)
    return {"processes": processes, "batch_per_process": batch, "crop": crop, "seconds_per_step": step,
            "samples_per_s": processes * batch / step, "wall_s": wall}  # fmt: skip


@app.command()
def run(
    out: Path = typer.Option(Path("cache/bench/stage2.json"), "--out"),
    quick: bool = typer.Option(False, "--quick", help="Fewer steps, sizes and repeats"),
) -> None:
    """Measure stage two and write the numbers as JSON."""
    repeats = 1 if quick else 3
    results: dict = {"threads": torch.get_num_threads(), "quick": quick}
    console.print("stage two: fp32 matmul peak")
    results["matmul_gflops"] = matmul_peak(5 if quick else 20)
    shipped = Restorer.from_pretrained(SHIPPED_RESTORER)
    paper = Restorer(RestorerConfig(width=32, descriptor="static"))
    results["models"] = [
        {
            "name": name,
            "width": model.config.width,
            "parameters": count_parameters(model),
            "macs_per_mp": macs_per_image(model) / (256 * 256 / 1e6),  # MACs per megapixel
        }
        for name, model in (("shipped (w16, dynamic)", shipped), ("paper width (w32, static)", paper))
    ]
    console.print("stage two: train steps")
    steps = 5 if quick else 10
    shapes = [(16, 128, 8), (16, 256, 4)] + ([] if quick else [(32, 128, 4), (32, 256, 4)])
    results["train"] = [train_speed(width, crop, batch, steps) for width, crop, batch in shapes]
    console.print("stage two: inference speed and memory")
    sizes = [256, 512, 1024] if quick else [256, 512, 1024, 2048, 4096]
    results["inference"] = [inference_in_subprocess(size, 0, 512, 1 if size >= 2048 or quick else repeats) for size in sizes]
    results["inference_untiled"] = [inference_in_subprocess(1024, 0, 1024, 1)]
    # Hot spot fixed in this release: the same 512² restore in the old NCHW layout, for the before/after table.
    results["inference_layout"] = [inference_in_subprocess(512, 0, 512, repeats, channels_last=flag) for flag in (False, True)]
    if not quick:
        results["inference_paper_width"] = [inference_in_subprocess(size, 32, 512, repeats) for size in (256, 512)]
    results["profile"] = {layout: profile_forward(layout == "NHWC") for layout in ("NCHW", "NHWC")}
    console.print("stage two: torchrun DDP, 1 and 2 processes")
    results["ddp"] = [ddp_speed(n, 6 if quick else 12) for n in (1, 2)]
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(results, indent=2) + "\n")
    console.print(f"wrote {out}")


@app.command()
def infer(
    size: int = typer.Option(..., "--size"),
    width: int = typer.Option(0, "--width", help="0: the shipped checkpoint; else a random restorer of this width"),
    tile: int = typer.Option(512, "--tile"),
    repeats: int = typer.Option(1, "--repeats"),
    channels_last: bool = typer.Option(True, "--channels-last/--no-channels-last"),
) -> None:
    """One inference measurement as a JSON line (the parent process runs each size in a fresh process)."""
    print(json.dumps(inference_once(size, width, tile, repeats, channels_last)))


def main() -> None:
    run_app(app)


if __name__ == "__main__":
    main()
