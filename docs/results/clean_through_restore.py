"""Do no harm: clean photos through `restore` (auto prompt), PSNR of each output to its own input.

    python docs/results/clean_through_restore.py ../shared/data/eval/clean/kodak24 ../shared/data/eval/clean/mcmaster \
        --checkpoint stage2_restore/weights/restorer --report docs/results/clean_through_restore.csv
"""

from __future__ import annotations

import argparse
import csv
import tempfile
from pathlib import Path

from shared.image_io import IMAGE_SUFFIXES, load_image
from shared.metrics import psnr
from stage2_restore.photos import SHIPPED_RESTORER, PhotoJob, RestoreOptions, restore_photos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--checkpoint", default=str(SHIPPED_RESTORER))
    parser.add_argument("--keep-clear", type=float, default=0.8)
    parser.add_argument("--report", type=Path)
    args = parser.parse_args()
    photos = [p for folder in args.folders for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES]
    with tempfile.TemporaryDirectory() as work:
        jobs = [PhotoJob(p, Path(work) / f"{p.parent.name}-{p.stem}.png") for p in photos]
        results = restore_photos(jobs, args.checkpoint, RestoreOptions(keep_clear=args.keep_clear))
        rows = []
        for result in results:
            done = result.status != "failed"
            value = psnr(load_image(result.job.source).rgb, load_image(result.job.output).rgb) if done else float("nan")
            name = f"{result.job.source.parent.name}/{result.job.source.name}"
            rows.append((name, result.status, result.prompt, result.confidence, value))
    for row in rows:
        print(f"{row[0]:28s} {row[1]:9s} {row[4]:7.2f} dB  conf {row[3]:.2f}  {row[2]}")
    finite = [r[4] for r in rows if r[4] == r[4]]
    print(f"{len(rows)} photos: {sum(v >= 38 for v in finite)} at >= 38 dB to themselves; min {min(finite):.2f} dB; "
          f"{sum(r[1] == 'clear' for r in rows)} returned unchanged")
    if args.report:
        with open(args.report, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["photo", "status", "prompt", "confidence", "psnr_to_input"])
            writer.writerows([[r[0], r[1], r[2], f"{r[3]:.3f}", f"{r[4]:.2f}"] for r in rows])


if __name__ == "__main__":
    main()
