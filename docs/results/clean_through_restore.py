"""Do no harm: photos through `restore` (auto prompt, its default caution), PSNR of each output to its reference.

A plain folder holds clean photos: each output is scored against its own input (a clean photo
should come back unchanged). `--pairs DIR` takes DIR/input and DIR/target (e.g. PolyU's real
camera noise) and scores input and output against the target.

    python docs/results/clean_through_restore.py ../shared/data/eval/clean/kodak24 ../shared/data/eval/clean/mcmaster \
        --checkpoint stage2_restore/weights/restorer --report docs/results/clean_through_restore.csv
    python docs/results/clean_through_restore.py --pairs ../shared/data/eval/paired/polyu_real_noise \
        --report docs/results/polyu_through_restore.csv

`--prompt TEXT` (repeatable) steers instead of detecting: clean photos told a wrong prompt measure
whether the restorer obeys words its pixels contradict (validation photos only, e.g. bsds500-val).
`--darkest N` keeps the N dimmest photos of each folder (lowest mean luma): told "low light", a dim
but properly exposed photo is the mistake a restorer that lifts on darkness is most likely to obey.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
from pathlib import Path

import numpy as np

from shared.image_io import load_image
from shared.metrics import psnr, rgb_to_y
from shared.splits import image_files, resolve_split
from stage2_restore.photos import SHIPPED_RESTORER, PhotoJob, RestoreOptions, restore_photos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path, help="folders of clean photos")
    parser.add_argument("--pairs", type=Path, action="append", default=[], help="a folder with input/ and target/")
    parser.add_argument("--checkpoint", default=str(SHIPPED_RESTORER))
    parser.add_argument("--keep-clear", type=float, help="restore --keep-clear (default: restore's)")
    parser.add_argument("--sure", type=float, help="restore --sure (default: restore's)")
    parser.add_argument("--prompt", action="append", default=[], help="steer every photo with this prompt (repeatable: one pass each)")
    parser.add_argument("--limit", type=int, help="only the first N photos of each folder")
    parser.add_argument("--darkest", type=int, help="only the N photos of lowest mean luma of each folder")
    parser.add_argument("--report", type=Path)
    args = parser.parse_args()
    references = {p: p for folder in args.folders for p in darkest(image_files(folder), args.darkest)[: args.limit]}
    for folder in args.pairs:  # targets matched to inputs by name as restore-eval's paired: split does
        pairs = [pair for pair in resolve_split(f"paired:{folder}").ready_pairs() if pair.clean][: args.limit]
        references |= {pair.degraded: pair.clean for pair in pairs}
    caution = {name: value for name, value in (("sure", args.sure), ("keep_clear", args.keep_clear)) if value is not None}
    rows = []
    for prompt in args.prompt or [None]:
        options = RestoreOptions(prompt=prompt, **caution)
        rows += (passed := through_restore(references, args.checkpoint, options))
        for row in passed:
            print(f"{row[0]:40s} {row[1]:9s} in {row[5]:6.2f} out {row[6]:6.2f} dB  conf {row[3]:.2f} applied {row[4]:.2f}  {row[2]}")
        print(summary(passed, "auto prompt" if prompt is None else f"steered {prompt!r}"))
    if args.report:
        with open(args.report, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["photo", "status", "prompt", "confidence", "applied", "psnr_input", "psnr_output"])
            writer.writerows([[r[0], r[1], r[2], f"{r[3]:.3f}", f"{r[4]:.2f}", f"{r[5]:.2f}", f"{r[6]:.2f}"] for r in rows])


def darkest(photos: list[Path], count: int | None) -> list[Path]:
    if count is None:
        return photos
    luma = {p: float(rgb_to_y(load_image(p).rgb).mean()) for p in photos}
    return sorted(photos, key=luma.get)[:count]


def summary(rows: list[tuple], how: str) -> str:
    clean = [r for r in rows if not np.isfinite(r[5])]  # scored against themselves
    paired = [r for r in rows if np.isfinite(r[5])]
    lines = []
    if clean:
        lines.append(f"{how}: {len(clean)} clean photos, {sum(r[6] >= 38 for r in clean)} at >= 38 dB to themselves, "
                     f"min {min(r[6] for r in clean):.2f} dB, mean {np.mean([min(r[6], 60.0) for r in clean]):.2f} dB (capped at 60), "
                     f"{sum(r[1] == 'clear' for r in clean)} returned unchanged")  # fmt: skip
    if paired:
        lines.append(f"{how}: {len(paired)} pairs, PSNR input {np.mean([r[5] for r in paired]):.2f} dB, "
                     f"output {np.mean([r[6] for r in paired]):.2f} dB; {sum(r[6] < r[5] for r in paired)} made worse, "
                     f"{sum(r[4] < 1 for r in paired)} restored only in part")  # fmt: skip
    return "\n".join(lines)


def through_restore(references: dict[Path, Path], checkpoint: str, options: RestoreOptions) -> list[tuple]:
    """(photo, status, prompt, confidence, applied, PSNR of input, PSNR of output) for every photo `restore` did not fail on."""
    rows = []
    with tempfile.TemporaryDirectory() as work:
        jobs = [PhotoJob(p, Path(work) / f"{p.parent.parent.name}-{p.parent.name}-{p.stem}.png") for p in references]
        for result in restore_photos(jobs, checkpoint, options):
            source = result.job.source
            if result.status == "failed":
                print(f"skipped {result.error}")
                continue
            reference = load_image(references[source]).rgb
            before = psnr(reference, load_image(source).rgb)
            after = psnr(reference, load_image(result.job.output).rgb)
            name = f"{source.parent.name}/{source.name}"
            rows.append((name, result.status, result.prompt, result.confidence, result.applied, before, after))
    return rows


if __name__ == "__main__":
    main()
