"""Clean validation photos guided by the whole vector of one of their own degraded versions (PSNR to themselves).

`clean_through_restore.py --prompt` changes only the words of a vector; the assessor's image
features in it still describe the clean photo. Here both halves are wrong at once, as when the
prompter itself sees a dark photo where there is none, and as in a misdirected training row
(`restore-train --misdirected-fraction`). `--input noise` restores each photo's `noise` version
instead, still scored against the clean photo: a grainy photo told it is dark; its own vector's
score is listed as "own". Reads a split's pairs and its cache of the checkpoint's fingerprint, so
build the split first (`restore-eval` does). Validation photos only.

    python docs/results/misdirected_val.py "folder:../shared/data/train/clean/bsds500-val" --limit 20 \
        --checkpoint leg11=runs/leg11 --checkpoint 12a=runs/soup12 --report docs/results/misdirected_val.csv
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path

import numpy as np

from shared.degrade import CLEAR
from shared.image_io import load_image
from shared.metrics import psnr
from shared.pairs import pairs_dir, read_pairs
from shared.splits import resolve_split
from stage2_restore.evaluate import checkpoint_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("split", help="a split built from clean photos, e.g. folder:PATH (its pairs must exist)")
    parser.add_argument("--checkpoint", action="append", required=True, help="NAME=PATH (repeatable)")
    parser.add_argument("--limit", type=int, help="only the first N photos")
    parser.add_argument("--input", default=CLEAR, help="the category whose image is restored (default: the clean photo)")
    parser.add_argument("--cache-dir", default="cache")
    parser.add_argument("--report", type=Path)
    args = parser.parse_args()
    split = resolve_split(args.split)
    rows = read_pairs(pairs_dir(args.cache_dir, split))
    clean = {r.image_id: r for r in rows if r.category == CLEAR}
    inputs = {r.image_id: r for r in rows if r.category == args.input}
    photos = sorted(clean)[: args.limit]
    targets = {i: load_image(clean[i].clean).rgb for i in photos}
    images = {i: load_image(inputs[i].degraded).rgb for i in photos}
    guides = [r for r in rows if r.category not in (CLEAR, args.input) and r.image_id in photos]
    guides += [inputs[i] for i in photos] if args.input != CLEAR else []
    table = []
    for spec in args.checkpoint:
        name, path = spec.split("=", 1)
        _, model = checkpoint_model(path, Path(args.cache_dir) / split.slug)
        for guide in guides:  # the vector is the guide row's, the pixels the photo's input
            category = "own" if guide.category == args.input else guide.category
            restored = model(images[guide.image_id], guide)
            table.append((name, guide.image_id, category, psnr(targets[guide.image_id], restored)))
    by_label = defaultdict(list)
    for name, _, category, value in table:
        for label in category.split("_"):
            by_label[(name, label)].append(min(value, 60.0))
        by_label[(name, "all")].append(min(value, 60.0))
    for (name, label), values in sorted(by_label.items()):
        print(f"{name:8s} vector of a version with {label:6s}: {len(values):4d} restorations, mean {np.mean(values):.2f} dB "
              f"(capped at 60), min {min(values):.2f}, {sum(v < 38 for v in values)} below 38 dB")  # fmt: skip
    if args.report:
        with open(args.report, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["model", "photo", "guided_by", "psnr"])
            writer.writerows([[n, i, c, f"{v:.2f}"] for n, i, c, v in table])


if __name__ == "__main__":
    main()
