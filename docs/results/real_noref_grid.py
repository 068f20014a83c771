"""Before/after grid of real photos without ground truth, through `restore` (auto prompt).

    python docs/results/real_noref_grid.py ../shared/data/eval/real_noref/{rain_heavyrain_web,snow_real,haze_real,lowlight_lime} \
        --per-folder 3 -o docs/results/real_noref.png
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from PIL import Image

from shared.grid import labelled_grid
from shared.image_io import fit_max_side, load_image
from shared.splits import image_files
from stage2_restore.photos import SHIPPED_RESTORER, PhotoJob, RestoreOptions, restore_photos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--checkpoint", default=str(SHIPPED_RESTORER))
    parser.add_argument("--per-folder", type=int, default=3)
    parser.add_argument("--side", type=int, default=320)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    photos: list[Path] = []
    for folder in args.folders:
        found = image_files(folder)  # snow_real keeps its photos in one sub-folder per source
        by_parent: dict[Path, list[Path]] = {}
        for photo in found:
            by_parent.setdefault(photo.parent, []).append(photo)
        # round-robin over the sub-folders, so every source is shown
        ordered = [group[i] for i in range(max(map(len, by_parent.values()), default=0)) for group in by_parent.values() if i < len(group)]
        photos += ordered[: args.per_folder]
    rows = []
    with tempfile.TemporaryDirectory() as work:
        jobs = [PhotoJob(p, Path(work) / f"{p.parent.name}-{p.stem}.png") for p in photos]
        for result in restore_photos(jobs, args.checkpoint, RestoreOptions()):
            if result.status == "failed":
                continue
            before = fit_max_side(load_image(result.job.source).rgb, 2 * args.side)
            after = fit_max_side(load_image(result.job.output).rgb, 2 * args.side)
            note = " (left unchanged)" if result.status == "clear" else ""
            rows.append([(before, f"{result.job.source.parent.name}/{result.job.source.name}"),
                         (after, f"{result.prompt}{note} · conf {result.confidence:.2f}")])  # fmt: skip
    # 256 colours: a dozen detailed photos stay under 1 MB in the repository
    Image.fromarray(labelled_grid(rows, args.side)).quantize(256, method=Image.Quantize.MEDIANCUT).save(args.output, optimize=True)
    print(f"wrote {args.output} ({len(rows)} photos)")


if __name__ == "__main__":
    main()
