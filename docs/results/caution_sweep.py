"""Choose `restore --sure` and `--keep-clear` on validation: how much restoration an unsure prompter applies.

When the prompter's strongest degradation is less than `sure` likely, the output is blended toward
the input (none of the restoration at 0.5), so a wrong guess costs less; a photo called clear with
at least `keep_clear` confidence in every label's absence is returned unchanged (0.5: every photo
called clear). This scores every policy (each `keep_clear` with each `sure`) on validation sets of
bsds500-val exactly as `restore` would apply it, and picks the one that withholds the most
restoration while its degraded-category PSNR stays within --budget dB of the least cautious
policy's on every set. Never run on ../shared/data/eval.

    python docs/results/caution_sweep.py --checkpoint stage2_restore/weights/restorer --limit 10 \
        --report docs/results/caution_sweep.csv
    python docs/results/caution_sweep.py --keep-clear 0.5,0.6,0.7,0.8 --sure 0.9 --limit 20 \
        --sets "in-distribution,held-out families,dark,weather,close-ups" --report docs/results/keep_clear_sweep.csv

Each set's vectors must exist (restore-eval on the set with the same checkpoint builds them).
"""

from __future__ import annotations

import argparse
import csv
import itertools
from collections import defaultdict
from dataclasses import dataclass

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
WEATHER_CATEGORIES = (  # the categories with rain or snow, as campaign.sh scores the weather set
    "clear,rain,snow,low_rain,low_snow,haze_rain,haze_snow,low_haze_rain,low_haze_snow,rain_noise,snow_blur,low_haze_rain_noise"
)


@dataclass(frozen=True)
class ValidationSet:
    """One validation set of bsds500-val, built as docs/results/campaign.sh builds it."""

    split: str
    seed: int
    categories: str | None = None
    """None: the prompter's 20 categories."""
    families: str | None = None
    cache_subdir: str | None = None
    """Below --cache-dir, for a family set cached apart (the `dark` set lives in cache/dark)."""


VALIDATION = {
    "in-distribution": ValidationSet(f"folder:{D}/bsds500-val", 1),
    "held-out families": ValidationSet(f"heldout:{D}/bsds500-val", 3),
    "dark": ValidationSet(f"folder:{D}/bsds500-val", 1, families="dark", cache_subdir="dark"),
    "weather": ValidationSet(f"weather:{D}/bsds500-val", 1, categories=WEATHER_CATEGORIES),
    "close-ups": ValidationSet(f"closeup:{D}/bsds500-val", 1, categories="clear,noise,blur"),
    "dim rooms": ValidationSet(f"dimroom:{D}/bsds500-val", 1, categories="clear,noise"),
}
UNCHANGED_DB = 60.0
"""PSNR counted for a clean photo returned exactly as it was (its true PSNR is infinite)."""


def sweep(checkpoint: str, limit: int, cache_dir: str, sets: list[str], policies: list[tuple[float, float]]) -> list[dict]:
    from stage1_embed.labels import PROMPTER_CATEGORIES

    model = Restorer.from_pretrained(checkpoint)
    fingerprint = read_binding(checkpoint)
    rows_out = []
    for set_name in sets:
        spec = VALIDATION[set_name]
        set_cache = f"{cache_dir}/{spec.cache_subdir}" if spec.cache_subdir else cache_dir
        categories = spec.categories or ",".join(PROMPTER_CATEGORIES)
        split, pairs = build_split_pairs(spec.split, None, set_cache, seed=spec.seed, categories=categories, families=spec.families)
        cache = EmbeddingCache(cache_folder(set_cache, split.slug, fingerprint), expected=fingerprint)
        scores: dict[tuple, dict[str, list[float]]] = {policy: defaultdict(list) for policy in policies}
        applied_sum = dict.fromkeys(policies, 0.0)
        softened = dict.fromkeys(policies, 0)
        rows = limit_images(pairs.rows, limit)
        for row in rows:
            record = cache[row.key]
            degraded, clean = load_image(row.degraded).rgb, load_image(row.clean).rgb
            restored = restore_image(model, degraded, descriptor_inputs(record, model.config.static_classes))
            for keep_clear, sure in policies:
                applied = restoration_share(record, keep_clear, sure)
                output = np.clip(blend(restored, degraded, applied), 0, 1)
                scores[keep_clear, sure][row.category].append(min(psnr(clean, output), UNCHANGED_DB))
                applied_sum[keep_clear, sure] += applied
                softened[keep_clear, sure] += not is_confidently_clear(record, keep_clear) and applied < 1
        for keep_clear, sure in policies:
            by_category = scores[keep_clear, sure]
            degraded_means = [np.mean(v) for category, v in by_category.items() if category != CLEAR]
            rows_out.append({
                "set": set_name, "keep_clear": keep_clear, "sure": sure, "degraded_psnr": float(np.mean(degraded_means)),
                "clear_psnr": float(np.mean(by_category[CLEAR])) if by_category[CLEAR] else float("nan"),
                "applied_share": applied_sum[keep_clear, sure] / len(rows),
                "softened_share": softened[keep_clear, sure] / len(rows), "images": len(rows),
            })  # fmt: skip
        cache.close()
    return rows_out


def choose(rows: list[dict], budget: float) -> tuple[float, float]:
    """The policy that applies the least restoration (mean share over the sets) among those whose
    degraded-category PSNR is within `budget` dB of the least cautious policy's (highest keep_clear,
    lowest sure) on every set."""
    reference = (max(r["keep_clear"] for r in rows), min(r["sure"] for r in rows))
    full = {r["set"]: r["degraded_psnr"] for r in rows if (r["keep_clear"], r["sure"]) == reference}
    by_policy: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        by_policy[r["keep_clear"], r["sure"]].append(r)
    fine = {p: rs for p, rs in by_policy.items() if all(full[r["set"]] - r["degraded_psnr"] <= budget for r in rs)}
    return min(fine, key=lambda p: np.mean([r["applied_share"] for r in fine[p]]))


def floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=str(SHIPPED_RESTORER))
    parser.add_argument("--limit", type=int, default=10, help="photos of each validation set (x its categories)")
    parser.add_argument("--cache-dir", default="cache")
    parser.add_argument("--keep-clear", type=floats, default=[0.8], help="candidates, comma-separated")
    parser.add_argument("--sure", type=floats, default=[0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9], help="candidates, comma-separated")
    parser.add_argument("--sets", default="in-distribution,held-out families", help=f"comma-separated, of: {', '.join(VALIDATION)}")
    parser.add_argument("--budget", type=float, default=0.1, help="dB of degraded-category PSNR caution may cost")
    parser.add_argument("--report")
    args = parser.parse_args()
    sets = args.sets.split(",")
    unknown = [s for s in sets if s not in VALIDATION]
    if unknown:
        parser.error(f"unknown set {unknown[0]!r}; choose from: {', '.join(VALIDATION)}")

    rows = sweep(args.checkpoint, args.limit, args.cache_dir, sets, list(itertools.product(args.keep_clear, args.sure)))
    for r in rows:
        print(f"{r['set']:18s} keep-clear {r['keep_clear']:.2f} sure {r['sure']:.2f}: degraded {r['degraded_psnr']:.3f} dB, "
              f"clear {r['clear_psnr']:.2f} dB, restoration applied {r['applied_share']:.1%}, "
              f"softened {r['softened_share']:.1%} of {r['images']}")  # fmt: skip
    keep_clear, sure = choose(rows, args.budget)
    print(f"chosen: keep-clear = {keep_clear}, sure = {sure} (most cautious within {args.budget} dB on every set)")
    if args.report:
        with open(args.report, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


if __name__ == "__main__":
    main()
