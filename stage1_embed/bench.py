"""Stage one's benchmark numbers (JSON for BENCHMARKS.md): build throughput, HDF5 writes, sharded builds, the E5-V path.

Run from the repository root: `python -m stage1_embed.bench --out cache/bench/stage1.json [--quick]`.
Every timing is the median of `repeats` runs after a warm-up.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import typer

from shared.cache import EmbeddingRecord, Fingerprint, write_shard
from shared.cli import console, run_app
from shared.fileio import atomic_write_text
from shared.image_io import load_image
from shared.pairs import SynthesisConfig, build_pairs
from shared.splits import resolve_split
from stage1_embed.build import build_embeddings
from stage1_embed.embedders import E5VEmbedder, LocalEmbedder, fingerprint_of
from stage1_embed.embedders.tiny_llava import build_tiny_llava
from stage1_embed.labels import PROMPTER_CATEGORIES
from stage1_embed.prompter import PromptGenerator

app = typer.Typer(add_completion=False)


def median_seconds(run, repeats: int) -> float:
    """Median wall time of `run()` over `repeats` calls, after one untimed warm-up call."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_rows(cache_dir: Path):
    """The demo photos under all 20 prompter categories: 100 degraded images at 512 px, built once."""
    config = SynthesisConfig(seed=2, categories=PROMPTER_CATEGORIES)
    return build_pairs(resolve_split("demo"), cache_dir, config).rows


def build_throughput(rows, batch_sizes, repeats: int, work: Path) -> list[dict]:
    """images/s of the whole build (decode, assess, embed, HDF5 write) with the local embedder per batch size."""
    prompter = PromptGenerator.from_pretrained()
    embedder = LocalEmbedder(prompter)
    fingerprint = fingerprint_of(embedder, prompter)
    results = []
    for batch in batch_sizes:
        counter = iter(range(1_000_000))
        seconds = median_seconds(
            lambda batch=batch, counter=counter: build_embeddings(rows, prompter, embedder, fingerprint, work / f"b{batch}-{next(counter)}",
                                                                  batch_size=batch),
            repeats,
        )  # fmt: skip
        size = sum(p.stat().st_size for p in (work / f"b{batch}-0").glob("shard-*.h5"))
        results.append({"batch": batch, "images": len(rows), "seconds": seconds, "images_per_s": len(rows) / seconds,
                        "shard_mb_per_1000": size / len(rows) * 1000 / 1e6})  # fmt: skip
    return results


def phase_breakdown(rows, repeats: int) -> dict:
    """ms per image of each build phase at batch 8, and the assessor pass the local embedder used to repeat."""
    prompter = PromptGenerator.from_pretrained()
    embedder = LocalEmbedder(prompter)
    images = [load_image(r.degraded).rgb for r in rows]
    batches = [images[i : i + 8] for i in range(0, len(images), 8)]
    per_image = lambda seconds: 1000 * seconds / len(images)
    assessments = [prompter.assess(b) for b in batches]
    return {
        "decode_ms": per_image(median_seconds(lambda: [load_image(r.degraded) for r in rows], repeats)),
        "assess_ms": per_image(median_seconds(lambda: [prompter.assess(b) for b in batches], repeats)),
        "embed_recomputing_features_ms": per_image(
            median_seconds(lambda: [embedder.embed(b, a.prompts) for b, a in zip(batches, assessments, strict=True)], repeats)
        ),
        "embed_reusing_features_ms": per_image(
            median_seconds(lambda: [embedder.embed(b, a.prompts, a.features) for b, a in zip(batches, assessments, strict=True)], repeats)
        ),
    }


def hdf5_write_speed(dims, rows: int, repeats: int, work: Path) -> list[dict]:
    """MB/s of write_shard (atomic, float16 vectors + prompts + labels + manifest rows) at each vector width."""
    rng = np.random.default_rng(0)
    results = []
    for dim in dims:
        fingerprint = Fingerprint("bench", "none", "none", "none", dim)
        records = [EmbeddingRecord(f"{i:06d}/haze", rng.standard_normal(dim).astype(np.float32), "a photo with dense haze",
                                   np.array([0, 1, 0, 0, 0, 0], np.uint8), np.zeros(6, np.float32),
                                   {"image_id": f"{i:06d}", "category": "haze", "degraded": f"/data/degraded/haze/{i:06d}.png"})
                   for i in range(rows)]  # fmt: skip
        path = work / f"write-{dim}.h5"
        seconds = median_seconds(
            lambda path=path, fingerprint=fingerprint, records=records: write_shard(path, fingerprint, records, rows), repeats
        )
        size = path.stat().st_size
        results.append({"dim": dim, "rows": rows, "mb": size / 1e6, "seconds": seconds, "mb_per_s": size / 1e6 / seconds})
    return results


def e5v_tiny_path(repeats: int, work: Path) -> list[dict]:
    """images/s of the real E5-V code path (processor, anyres tiles, last-token pooling) on a tiny random LLaVA-NeXT."""
    model = build_tiny_llava(work / "tiny-llava")
    rng = np.random.default_rng(0)
    images = [rng.random((336, 448, 3)).astype(np.float32) for _ in range(8)]
    prompts = ["a photo taken in low light, with dense haze and heavy rain"] * 8
    results = []
    for quant in ("none", "4bit"):
        embedder = E5VEmbedder(str(model), quant=quant, device="cpu")
        seconds = median_seconds(lambda embedder=embedder: embedder.embed(images, prompts), repeats)
        results.append({"quant": quant, "images": len(images), "seconds": seconds, "images_per_s": len(images) / seconds})
    return results


def sharded_builds(cache_dir: Path, workers_list, rows_per_shard: int) -> list[dict]:
    """Wall time of `restore-embed build --shard K/N` with N processes at once (one torch thread each)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "COLUMNS": "200"}
    base = [sys.executable, "-m", "stage1_embed.cli", "build", "--split", "demo", "--encoder", "local", "--batch-size", "8",
            "--rows-per-shard", str(rows_per_shard)]  # fmt: skip
    results = []
    for workers in workers_list:
        target = cache_dir / f"sharded-{workers}"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(cache_dir / "demo" / "pairs", target / "demo" / "pairs")  # same pairs, no vectors yet
        start = time.perf_counter()
        processes = [subprocess.Popen([*base, "--shard", f"{k}/{workers}", "--cache-dir", str(target)], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for k in range(workers)]  # fmt: skip
        for process in processes:
            _, stderr = process.communicate()
            if process.returncode:
                raise RuntimeError(f"sharded build failed: {stderr.strip().splitlines()[-1:]}")
        wall = time.perf_counter() - start
        # A second run finds every shard done: its wall time is the fixed cost (imports, model load, verify).
        start = time.perf_counter()
        subprocess.run([*base, "--shard", f"0/{workers}", "--cache-dir", str(target)], env=env, capture_output=True, check=True)
        fixed = time.perf_counter() - start
        manifest = json.loads(next((target / "demo").glob("local-*/manifest.json")).read_text())
        results.append({"workers": workers, "images": manifest["rows"], "wall_s": wall, "fixed_s": fixed,
                        "complete": manifest["complete"], "images_per_s": manifest["rows"] / wall,
                        "images_per_s_after_startup": manifest["rows"] / max(wall - fixed, 1e-9)})  # fmt: skip
    return results


@app.command()
def run(
    out: Path = typer.Option(Path("cache/bench/stage1.json"), "--out"),
    quick: bool = typer.Option(False, "--quick", help="One repeat, fewer sizes (under a minute)"),
) -> None:
    """Measure stage one and write the numbers as JSON."""
    repeats = 1 if quick else 3
    cache_dir = Path("cache/bench")
    rows = bench_rows(cache_dir)
    if quick:
        rows = rows[:40]
    results: dict = {"threads": torch.get_num_threads(), "quick": quick}
    with tempfile.TemporaryDirectory(prefix="bench-stage1-") as work:
        work = Path(work)
        console.print("stage one: build throughput per batch size")
        results["build"] = build_throughput(rows, (1, 8, 32), repeats, work)
        console.print("stage one: phases")
        results["phases"] = phase_breakdown(rows[:32], repeats)
        console.print("stage one: HDF5 writes")
        results["hdf5"] = hdf5_write_speed((512, 4096), 1024, repeats, work)
        console.print("stage one: E5-V path on a tiny LLaVA-NeXT")
        results["e5v_tiny"] = e5v_tiny_path(repeats, work)
    console.print("stage one: --shard K/N with 1 and 2 processes")
    results["sharded"] = sharded_builds(cache_dir, (1, 2), rows_per_shard=8)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(results, indent=2) + "\n")
    console.print(f"wrote {out}")


def main() -> None:
    run_app(app)


if __name__ == "__main__":
    main()
