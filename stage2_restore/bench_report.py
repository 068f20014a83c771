"""BENCHMARKS.md from the two stages' benchmark JSON files (both measured in one `just bench` run).

The text is the template bench_report.md beside this file; this module only computes the values
that fill it: numbers, small tables, and the few verdicts that depend on them. It lives in stage
two, downstream of stage one, because it reads stage one's results as a file, like the cache.

Run: `python -m stage2_restore.bench_report cache/bench/stage1.json cache/bench/stage2.json -o BENCHMARKS.md --command "just bench"`.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import torch
import typer

from shared.cli import console, run_app
from shared.fileio import atomic_write_text

app = typer.Typer(add_completion=False)
TEMPLATE = Path(__file__).with_name("bench_report.md")

# E5-V = LLaVA-NeXT with Llama-3-8B (public config: hidden 4096, 32 layers, 8 KV heads, MLP 14336, vocab 128256)
# and CLIP ViT-L/14-336 (0.304 B parameters).
LLAMA_LINEAR_PARAMS = 32 * (2 * 4096 * 4096 + 2 * 4096 * 1024 + 3 * 4096 * 14336)  # q,o + k,v + gate,up,down per layer
VOCAB_MATRIX_PARAMS = 128256 * 4096  # embed_tokens, and again lm_head (both stay bf16 under bitsandbytes)
VISION_PARAMS, PROJECTOR_PARAMS = 304e6, 1024 * 4096 + 4096 * 4096
NF4_BITS = 4 + 8 / 64 + 32 / (64 * 256)  # 4-bit codes + double-quantised absmax per 64 + fp32 per 256 absmax blocks
IMAGE_TOKENS = 576 + 2304 + 48  # anyres at 672x672: base view + 2x2 tiles (24x24 each) + row newlines
TEXT_TOKENS = 60
# Official OneRestore network on this machine (../shared/notes/anchors.md, random weights, fp32).
OFFICIAL = {"inference_256": 1.13, "inference_512": 9.2, "train_b4_128": 3.5, "train_b4_256": 25.9}
GPU_GB, CUDA_CONTEXT_GB = 24, 0.5
DATA_BUDGET = 0.05  # share of a step the loader may take before it needs worker processes
LSDIR_PHOTOS = 84_991
H100_BF16_FLOPS, ASSUMED_UTILISATION = 989e12, 0.3


def e5v_memory() -> dict:
    """Weights at 4-bit and activations per image (bf16, batch 1, no KV cache), in GB: arithmetic, not measured."""
    tokens = IMAGE_TOKENS + TEXT_TOKENS
    quantised = (LLAMA_LINEAR_PARAMS + VISION_PARAMS + PROJECTOR_PARAMS) * NF4_BITS / 8 / 1e9
    vocab = 2 * VOCAB_MATRIX_PARAMS * 2 / 1e9
    layer_peak = tokens * (4 * 4096 + 3 * 14336) * 2 / 1e9  # residual, norm, attention out, q + gate, up, their product
    logits = tokens * 128256 * 2 / 1e9
    all_hidden = 33 * tokens * 4096 * 2 / 1e9
    return {"tokens": tokens, "weights_nf4_gb": quantised, "weights_bf16_vocab_gb": vocab, "weights_total_gb": quantised + vocab,
            "activation_gb_per_image": layer_peak, "before_fix_extra_gb_per_image": logits + all_hidden,
            "flop_per_image": 2 * (LLAMA_LINEAR_PARAMS * tokens + VISION_PARAMS * 5 * 577)}  # fmt: skip


def table(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def efficiency(rate: float, processes: int, one_process_rate: float) -> str:
    """Throughput of N processes against N times one process, as a percentage."""
    return f"{rate / (processes * one_process_rate) * 100:.0f} %"


def layout_why(layouts: dict) -> str:
    """What the NCHW/NHWC comparison of this run shows, in words."""
    gain = 1 - layouts["NHWC"]["seconds"] / layouts["NCHW"]["seconds"]
    if gain >= 0.05:
        return f"convolutions dominate (profile below); in channels_last (NHWC) oneDNN runs them {gain * 100:.0f} % faster, same output"
    return (
        f"channels_last (NHWC) cut the convolutions' time in the profile below, but the whole restore gained {gain * 100:.0f} % in this run"
    )


def _machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
               platform.processor())  # fmt: skip
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    memory = next((int(line.split()[1]) / 1024**2 for line in meminfo if line.startswith("MemTotal")), 0)
    return f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB RAM, no GPU; Python {platform.python_version()}, torch {torch.__version__}"


def _stage_one(stage1: dict, memory: dict) -> dict:
    phases = stage1["phases"]
    free_gb = GPU_GB - CUDA_CONTEXT_GB - memory["weights_total_gb"]
    gpu_batch = int(free_gb / memory["activation_gb_per_image"])
    return {
        "build_images": stage1["build"][0]["images"],
        "build_table": table(["batch", "images/s", "seconds", "shard size per 1,000 images"],
                             [[r["batch"], f"{r['images_per_s']:.1f}", f"{r['seconds']:.2f}", f"{r['shard_mb_per_1000']:.2f} MB"]
                              for r in stage1["build"]]),
        "phase_table": table(["phase", "ms / image"], [
            ["decode (Pillow)", f"{phases['decode_ms']:.2f}"],
            ["assess (pseudo-prompt generator)", f"{phases['assess_ms']:.2f}"],
            ["embed, **before**: assessor again + MiniLM", f"{phases['embed_recomputing_features_ms']:.2f}"],
            ["embed, **after**: reuse features + MiniLM (prompts are cached)", f"{phases['embed_reusing_features_ms']:.3f}"],
        ]),
        "hdf5_table": table(["vector width", "rows", "file", "MB/s"],
                            [[r["dim"], r["rows"], f"{r['mb']:.2f} MB", f"{r['mb_per_s']:.0f}"] for r in stage1["hdf5"]]),
        "decoder_b": f"{LLAMA_LINEAR_PARAMS / 1e9:.2f}", "vision_b": f"{VISION_PARAMS / 1e9:.2f}",
        "projector_m": f"{PROJECTOR_PARAMS / 1e6:.0f}",
        "nf4_bits": f"{NF4_BITS:.3f}", "nf4_gb": f"{memory['weights_nf4_gb']:.2f}", "vocab_gb": f"{memory['weights_bf16_vocab_gb']:.2f}",
        "weights_gb": f"{memory['weights_total_gb']:.1f}", "image_tokens": IMAGE_TOKENS, "text_tokens": TEXT_TOKENS,
        "tokens": memory["tokens"], "activation_gb": f"{memory['activation_gb_per_image']:.2f}",
        "full_forward_extra_gb": f"{memory['before_fix_extra_gb_per_image']:.2f}", "gpu_batch": gpu_batch,
        "gpu_batch_full_forward": int(free_gb / (memory["activation_gb_per_image"] + memory["before_fix_extra_gb_per_image"])),
        "batch16_verdict": "leaves headroom" if gpu_batch >= 16 else "does not fit; lower it",
        "batch16_gb": f"{memory['weights_total_gb'] + 16 * memory['activation_gb_per_image']:.1f}",
        "tflop_per_image": f"{memory['flop_per_image'] / 1e12:.0f}",
        "e5v_tiny_table": table(["quantisation", "images", "images/s"],
                                [[r["quant"], r["images"], f"{r['images_per_s']:.1f}"] for r in stage1["e5v_tiny"]]),
    }  # fmt: skip


def _in_the_loop(stage1: dict, stage2: dict, memory: dict) -> dict:
    train = stage2["train"]
    main = next(r for r in train if r["width"] == 16 and r["crop"] == 128)
    step, batch = main["seconds_per_step"], main["batch"]
    per_image = {
        "local embedder in the loop": (stage1["phases"]["assess_ms"] + stage1["phases"]["embed_reusing_features_ms"]) / 1000,
        "tiny LLaVA-NeXT in the loop": 1 / next(r for r in stage1["e5v_tiny"] if r["quant"] == "none")["images_per_s"],
        "E5-V 8B in the loop (arithmetic)": memory["flop_per_image"] / (stage2["matmul_gflops"] * 1e9),
    }
    rows = [["HDF5 cache (measured)", f"{step:.2f}", "1x"]]
    for what, seconds in per_image.items():
        total = step + batch * seconds
        digits = 2 if total / step < 2 else 1 if total / step < 100 else 0
        rows.append([what, f"{total:,.{min(digits, 2)}f}", f"{total / step:,.{digits}f}x"])
    worst = max(r["data_fraction"] for r in train)
    return {
        "batch": batch, "crop": main["crop"],
        "in_the_loop_table": table(["vectors from", "seconds per step", "ratio to cache"], rows),
        "data_shares": ", ".join(f"{r['data_fraction'] * 100:.1f} % at w{r['width']} {r['crop']}² b{r['batch']}" for r in train),
        "data_verdict": f"under the {DATA_BUDGET * 100:.0f} % budget, so the loader needs no worker processes" if worst < DATA_BUDGET
        else f"over the {DATA_BUDGET * 100:.0f} % budget: the loader needs worker processes",
    }  # fmt: skip


def _training_and_inference(stage2: dict) -> dict:
    models = {m["width"]: m for m in stage2["models"]}
    peak = stage2["matmul_gflops"]
    anchors = {(32, 128, 4): OFFICIAL["train_b4_128"], (32, 256, 4): OFFICIAL["train_b4_256"]}

    def gflops(row: dict) -> float:
        return 2 * models[16]["macs_per_mp"] * row["megapixels_per_s"] / 1e9

    untiled = stage2["inference_untiled"][0]
    tiled = next((r for r in stage2["inference"] if r["size"] == untiled["size"]), None)
    paper = ""
    if "inference_paper_width" in stage2:
        rows = {r["size"]: r for r in stage2["inference_paper_width"]}
        paper = "\n\nPaper width (w32, random weights) against the official network measured on this machine (anchors):\n\n" + table(
            ["image", "ours w32 (s)", "official (s)", "speed-up"],
            [[f"{s}²", f"{rows[s]['seconds']:.2f}", OFFICIAL[f"inference_{s}"], f"{OFFICIAL[f'inference_{s}'] / rows[s]['seconds']:.1f}x"]
             for s in (256, 512) if s in rows],
        )  # fmt: skip
    return {
        "w16_params": f"{models[16]['parameters'] / 1e6:.2f}", "w16_gmac": f"{models[16]['macs_per_mp'] / 1e9:.1f}",
        "w32_params": f"{models[32]['parameters'] / 1e6:.2f}", "w32_gmac": f"{models[32]['macs_per_mp'] / 1e9:.1f}",
        "w32_gmac_256": f"{models[32]['macs_per_mp'] * 0.065536 / 1e9:.1f}", "peak": f"{peak:.0f}",
        "train_table": table(["width", "crop", "batch", "s / step", "steps/s", "official OneRestore s / step (anchors)"],
                             [[r["width"], f"{r['crop']}²", r["batch"], f"{r['seconds_per_step']:.2f}", f"{r['steps_per_s']:.2f}",
                               anchors.get((r["width"], r["crop"], r["batch"]), "")] for r in stage2["train"]]),
        "inference_table": table(
            ["image", "tiles (px of tiles)", "was (fixed-stride tiles)", "seconds", "MP/s", "GFLOP/s", "of matmul peak", "peak RSS"],
            [[f"{r['size']}²", f"{r['tiles']} ({r['tile_megapixels']:.2f} MP)",
              f"{r['tiles_fixed_stride']} ({r['tile_megapixels_fixed_stride']:.2f} MP)", f"{r['seconds']:.2f}",
              f"{r['megapixels_per_s']:.3f}", f"{gflops(r):.1f}", f"{gflops(r) / peak * 100:.0f} %", f"{r['peak_rss_mb']:.0f} MB"]
             for r in stage2["inference"]]),
        "untiled": f"Without tiling, {untiled['size']}² in one pass peaks at {untiled['peak_rss_mb']:.0f} MB"
        + (f" (tiled: {tiled['peak_rss_mb']:.0f} MB)" if tiled else "")
        + f" and takes {untiled['seconds']:.2f} s. With tiles, memory grows only with the image's own buffers (input and output as "
        "float32 RGB, 12 bytes per pixel each, and the blend weights, 4), 28 bytes per pixel: 0.47 GB at 4096², while the network's "
        "activations stay those of one tile.",
        "paper_width": paper,
    }  # fmt: skip


def _scale_out(stage1: dict, stage2: dict, memory: dict) -> dict:
    sharded = {r["workers"]: r for r in stage1["sharded"]}
    ddp = {r["processes"]: r for r in stage2["ddp"]}
    row_bytes = next(r for r in stage1["hdf5"] if r["dim"] == 4096)["mb"] * 1e6 / 1024
    gpu_seconds = memory["flop_per_image"] / (ASSUMED_UTILISATION * H100_BF16_FLOPS)
    return {
        "sharded_table": table(["processes", "wall s", "images/s", "fixed s", "images/s after start-up", "efficiency"],
                               [[n, f"{r['wall_s']:.1f}", f"{r['images_per_s']:.1f}", f"{r['fixed_s']:.1f}",
                                 f"{r['images_per_s_after_startup']:.1f}",
                                 efficiency(r["images_per_s_after_startup"], n, sharded[1]["images_per_s_after_startup"])]
                                for n, r in sharded.items()]),
        "ddp_table": table(["processes", "s / step", "samples/s", "efficiency"],
                           [[n, f"{r['seconds_per_step']:.2f}", f"{r['samples_per_s']:.1f}",
                             efficiency(r["samples_per_s"], n, ddp[1]["samples_per_s"])] for n, r in ddp.items()]),
        "gpu_seconds": f"{gpu_seconds:.2f}", "gpu_hours": f"{LSDIR_PHOTOS * gpu_seconds / 3600:.1f}",
        "node_minutes": f"{LSDIR_PHOTOS * gpu_seconds / 8 / 60:.0f}", "four_node_minutes": f"{LSDIR_PHOTOS * gpu_seconds / 32 / 60:.0f}",
        "lsdir_shards": f"{LSDIR_PHOTOS / 1024:.0f}", "row_kb": f"{row_bytes / 1e3:.1f}",
        "lsdir_gb": f"{LSDIR_PHOTOS * row_bytes / 1e9:.2f}",
    }  # fmt: skip


def _hot_spots(stage1: dict, stage2: dict, memory: dict) -> dict:
    layouts = {r["layout"]: r for r in stage2["inference_layout"]}
    phases = stage1["phases"]
    tiled = next((r for r in stage2["inference"] if r["tiles"] > 1), None)
    assess = phases["assess_ms"]
    rows = [
        ["local embedder, ms per image (assess + embed)", "timed phases", f"{assess + phases['embed_recomputing_features_ms']:.2f}",
         f"{assess + phases['embed_reusing_features_ms']:.2f}", "the assessor ran twice per image"],
        ["512² restore, seconds", "torch.profiler", f"{layouts['NCHW']['seconds']:.2f}", f"{layouts['NHWC']['seconds']:.2f}",
         layout_why(layouts)],
    ]  # fmt: skip
    if tiled:
        rows.append([f"{tiled['size']}² restore, megapixels of tiles run", "arithmetic", f"{tiled['tile_megapixels_fixed_stride']:.2f}",
                     f"{tiled['tile_megapixels']:.2f}", "fixed 512 px steps: a sliver cost a whole tile"])  # fmt: skip
    activation = memory["activation_gb_per_image"]
    rows.append(["E5-V activations, GB per image", "arithmetic", f"{activation + memory['before_fix_extra_gb_per_image']:.2f}",
                 f"{activation:.2f}", "full forward kept logits and 33 hidden states"])  # fmt: skip
    profile = [[layout, f"`{e['op']}`", f"{e['share'] * 100:.0f} %", f"{e['self_ms']:.1f}", e["calls"]]
               for layout in ("NCHW", "NHWC") for e in stage2["profile"][layout]]  # fmt: skip
    return {
        "hot_spot_table": table(["what", "found with", "before", "after", "why"], rows),
        "profile_table": table(["layout", "operator", "share", "ms", "calls"], profile),
    }


def render(stage1: dict, stage2: dict, command: str, template: str | None = None) -> str:
    """The whole BENCHMARKS.md text: the template filled with this run's values."""
    memory = e5v_memory()
    values = {
        "today": date.today().isoformat(), "machine": _machine(), "command": command.strip(),
        "quick": " (quick: one repeat, fewer sizes)" if stage1["quick"] else "",
        **_stage_one(stage1, memory), **_in_the_loop(stage1, stage2, memory), **_training_and_inference(stage2),
        **_scale_out(stage1, stage2, memory), **_hot_spots(stage1, stage2, memory),
    }  # fmt: skip
    return (template if template is not None else TEMPLATE.read_text()).format_map(values)


@app.command()
def write(
    stage1: Path = typer.Argument(...),
    stage2: Path = typer.Argument(...),
    out: Path = typer.Option(Path("BENCHMARKS.md"), "-o", "--out"),
    command: str = typer.Option("just bench", "--command"),
) -> None:
    """Render BENCHMARKS.md from the stages' JSON files."""
    text = render(json.loads(stage1.read_text()), json.loads(stage2.read_text()), command)
    atomic_write_text(out, text)
    console.print(f"wrote {out}")


def main() -> None:
    run_app(app)


if __name__ == "__main__":
    main()
