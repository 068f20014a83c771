"""Choose `restore --sure` on validation: how much restoration an unsure prompter should apply.

When the prompter's strongest degradation is less than `sure` likely, the output is blended toward
the input (none of the restoration at 0.5), so a wrong guess costs less. This scores each candidate on both validation sets (training
families and held-out families, bsds500-val) exactly as `restore` would apply it (a confidently
clear photo is returned unchanged), and picks the most cautious value whose cost on the degraded
categories stays within --budget dB of restoring everything in full. Never run on ../shared/data/eval.

    python docs/results/caution_sweep.py --checkpoint stage2_restore/weights/restorer --limit 10 \
        --report docs/results/caution_sweep.csv
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict

import numpy as np

from shared.cache import EmbeddingCache
from shared.cli import build_split_pairs
from shared.contract import cache_folder, read_binding
from shared.degrade import CLEAR
from shared.image_io import load_image
from shared.metrics import psnr
from stage2_restore.data import descriptor_inputs
from stage2_restore.evaluate import limit_images
from stage2_restore.inference import restore_image
from stage2_restore.network import SHIPPED_RESTORER, Restorer
from stage2_restore.photos import blend, is_confidently_clear, restoration_share

D = "../shared/data/train/clean"
VALIDATION = {"in-distribution": (f"folder:{D}/bsds500-val", 1), "held-out families": (f"heldout:{D}/bsds500-val", 3)}
CANDIDATES = (0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9)
UNCHANGED_DB = 60.0
"""PSNR counted for a clean photo returned exactly as it was (its true PSNR is infinite)."""


def sweep(checkpoint: str, limit: int, cache_dir: str, keep_clear: float, categories: str) -> list[dict]:
    model = Restorer.from_pretrained(checkpoint)
    fingerprint = read_binding(checkpoint)
    rows_out = []
    for set_name, (split_name, seed) in VALIDATION.items():
        split, pairs = build_split_pairs(split_name, None, cache_dir, seed=seed, categories=categories)
        cache = EmbeddingCache(cache_folder(cache_dir, split.slug, fingerprint), expected=fingerprint)
        scores: dict[float, dict[str, list[float]]] = {sure: defaultdict(list) for sure in CANDIDATES}
        softened = dict.fromkeys(CANDIDATES, 0)
        rows = limit_images(pairs.rows, limit)
        for row in rows:
            record = cache[row.key]
            degraded, clean = load_image(row.degraded).rgb, load_image(row.clean).rgb
            restored = restore_image(model, degraded, descriptor_inputs(record, model.config.static_classes))
            kept = is_confidently_clear(record, keep_clear)
            for sure in CANDIDATES:
                applied = restoration_share(record, keep_clear, sure)
                output = np.clip(blend(restored, degraded, applied), 0, 1)
                scores[sure][row.category].append(min(psnr(clean, output), UNCHANGED_DB))
                softened[sure] += not kept and applied < 1
        for sure in CANDIDATES:
            degraded_means = [np.mean(v) for category, v in scores[sure].items() if category != CLEAR]
            rows_out.append({
                "set": set_name, "sure": sure, "degraded_psnr": float(np.mean(degraded_means)),
                "clear_psnr": float(np.mean(scores[sure][CLEAR])) if scores[sure][CLEAR] else float("nan"),
                "softened_share": softened[sure] / len(rows), "images": len(rows),
            })  # fmt: skip
        cache.close()
    return rows_out


def choose(rows: list[dict], budget: float) -> float:
    """The most cautious `sure` whose degraded-category PSNR is within `budget` dB of 0.5 (full) on every set."""
    full = {r["set"]: r["degraded_psnr"] for r in rows if r["sure"] == 0.5}
    fine = [s for s in CANDIDATES if all(full[r["set"]] - r["degraded_psnr"] <= budget for r in rows if r["sure"] == s)]
    return max(fine)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=str(SHIPPED_RESTORER))
    parser.add_argument("--limit", type=int, default=10, help="photos of each validation set (x 20 categories: clear and 19 degraded)")
    parser.add_argument("--cache-dir", default="cache")
    parser.add_argument("--keep-clear", type=float, default=0.8)
    parser.add_argument("--budget", type=float, default=0.1, help="dB of degraded-category PSNR caution may cost")
    parser.add_argument("--report")
    args = parser.parse_args()
    from stage1_embed.labels import PROMPTER_CATEGORIES  # the validation sets' 20 categories

    rows = sweep(args.checkpoint, args.limit, args.cache_dir, args.keep_clear, ",".join(PROMPTER_CATEGORIES))
    for r in rows:
        print(f"{r['set']:18s} sure {r['sure']:.2f}: degraded {r['degraded_psnr']:.3f} dB, clear {r['clear_psnr']:.2f} dB, "
              f"softened {r['softened_share']:.1%} of {r['images']}")  # fmt: skip
    print(f"chosen: sure = {choose(rows, args.budget)} (most cautious within {args.budget} dB on every set)")
    if args.report:
        with open(args.report, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


if __name__ == "__main__":
    main()
