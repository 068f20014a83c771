"""Weight interpolation of two restorers, (1 - alpha) * START + alpha * END (WiSE-FT, Wortsman et al. 2022).

END must descend from START (a leg trained --init-from it): averaging unrelated networks breaks them.
Both must read the same vectors (same cache.json); the result is a checkpoint folder that reads them
too, and `restore-eval --checkpoint`, `restore --checkpoint` and `restore-train export` take it.

    python docs/results/interpolate_restorers.py runs/leg11 runs/leg12 --alpha 0.75 -o runs/soup12
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from shared.contract import CHECKPOINT_DIR, read_binding, write_binding
from stage2_restore.network import Restorer


def interpolate(start: Path, end: Path, alpha: float, out: Path) -> Path:
    first, second = Restorer.from_pretrained(start), Restorer.from_pretrained(end)
    if first.config != second.config:
        raise SystemExit(f"{end}: its architecture differs from {start}'s; only a leg and the one it started from can be averaged")
    if read_binding(start) != read_binding(end):
        raise SystemExit(f"{end}: it reads other vectors than {start} (cache.json differs); the average would read neither's")
    if out.exists():
        raise SystemExit(f"{out} exists; choose a new folder")
    ends = second.state_dict()
    mixed = {k: torch.lerp(v.float(), ends[k].float(), alpha).to(v.dtype) if v.is_floating_point() else v
             for k, v in first.state_dict().items()}  # fmt: skip
    first.load_state_dict(mixed)
    folder = out / CHECKPOINT_DIR
    first.save_pretrained(folder)
    write_binding(folder, read_binding(start))
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("start", type=Path, help="run or checkpoint the other was trained from")
    parser.add_argument("end", type=Path, help="run or checkpoint trained --init-from START")
    parser.add_argument("--alpha", type=float, required=True, help="weight of END, in [0, 1]")
    parser.add_argument("-o", "--out", type=Path, required=True, help="new folder")
    args = parser.parse_args()
    if not 0.0 <= args.alpha <= 1.0:
        raise SystemExit(f"--alpha {args.alpha}: choose a weight in [0, 1]")
    print(f"wrote {interpolate(args.start, args.end, args.alpha, args.out)}")


if __name__ == "__main__":
    main()
