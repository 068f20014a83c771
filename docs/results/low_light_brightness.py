"""How dark is "low light"? The brightness our low-light families leave, beside folders of real photos.

Brightness is the mean sRGB value of a photo (0 black, 1 white). For each low-light family the
first N photos of `--photos` (at 512 px) are darkened once, one seeded stream per family (from its
name), and the spread of their brightness is reported, with the share of the clean photo's
brightness they keep. Each folder given is measured as it is (e.g. LOL's low-light inputs), and
`--called REPORT ROOT PHRASE` measures the photos of a `clean_through_restore.py` report (paths
under ROOT) whose prompt holds PHRASE: real photos the prompter called "low light". Only inputs
are measured (no model runs); an eval folder measured here describes, it must not set a family's
ranges.

    python docs/results/low_light_brightness.py --photos ../shared/data/train/clean/bsds500-val --limit 40 \
        ../shared/data/eval/paired/lol_eval15/input \
        --called docs/results/polyu_through_restore.csv ../shared/data/eval/paired/polyu_real_noise "low light" \
        --report docs/results/low_light_brightness.csv
"""

from __future__ import annotations

import argparse
import csv
import hashlib
from pathlib import Path

import numpy as np

from shared.degrade.families import FAMILIES, family_class
from shared.errors import ConfigError, RestoreError
from shared.fileio import atomic_path
from shared.image_io import fit_max_side, load_image
from shared.splits import image_files

FIELDS = ("source", "images", "brightness_p5", "brightness_p50", "brightness_p95", "share_of_clean_p50")


def spread(name: str, values: list[float], shares: list[float] | None = None) -> dict:
    if not values:
        raise ConfigError(f"{name}: no photos to measure; check the folder, --limit or the phrase")
    p5, p50, p95 = np.percentile(values, [5, 50, 95])
    share = f"{np.median(shares):.3f}" if shares else ""
    return dict(zip(FIELDS, (name, len(values), f"{p5:.3f}", f"{p50:.3f}", f"{p95:.3f}", share), strict=True))


def brightness(path: Path) -> float:
    return float(load_image(path).rgb.mean())


def called_photos(report: str, root: str, phrase: str) -> list[Path]:
    """The photos (under `root`) of a clean_through_restore.py report whose prompt holds `phrase`."""
    try:
        with open(report, newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise ConfigError(f"{report}: cannot read it ({exc.strerror}); give a clean_through_restore.py report") from exc
    if rows and not {"photo", "prompt"} <= rows[0].keys():
        raise ConfigError(f"{report}: no photo and prompt columns; give a clean_through_restore.py report")
    return [Path(root) / row["photo"] for row in rows if phrase in row["prompt"]]


def main() -> None:
    try:
        measure()
    except RestoreError as exc:
        raise SystemExit(str(exc)) from None


def measure() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path, help="folders of photos measured as they are")
    parser.add_argument("--photos", type=Path, required=True, help="clean photos to darken with each family")
    parser.add_argument("--limit", type=int, default=40)
    parser.add_argument("--families", default=",".join(FAMILIES["low"]), help="low-light families, comma-separated")
    parser.add_argument("--called", nargs=3, metavar=("REPORT", "ROOT", "PHRASE"), help="photos of a report whose prompt holds PHRASE")
    parser.add_argument("--report", type=Path)
    args = parser.parse_args()

    clean = [fit_max_side(load_image(p).rgb, 512) for p in image_files(args.photos)[: args.limit]]
    clean_brightness = [float(photo.mean()) for photo in clean]
    rows = [spread(f"clean {args.photos.name}", clean_brightness)]
    for family in (name.strip() for name in args.families.split(",")):
        darken = family_class("low", family)()
        # One stream per family, independent of the order families are listed in.
        rng = np.random.default_rng(int(hashlib.sha256(family.encode()).hexdigest()[:8], 16))
        darkened = [float(darken(photo, rng)[0].mean()) for photo in clean]
        shares = [d / c for d, c in zip(darkened, clean_brightness, strict=True)]
        rows.append(spread(f"low: {family}", darkened, shares))
    for folder in args.folders:
        rows.append(spread(str(folder), [brightness(path) for path in image_files(folder)]))
    if args.called:
        report, root, phrase = args.called
        rows.append(spread(f"{report}: called {phrase!r}", [brightness(path) for path in called_photos(report, root, phrase)]))

    print(" | ".join(FIELDS))
    for row in rows:
        print(" | ".join(str(row[f]) for f in FIELDS))
    if args.report:
        with atomic_path(args.report) as tmp, tmp.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=FIELDS)
            writer.writeheader()
            writer.writerows(rows)


if __name__ == "__main__":
    main()
