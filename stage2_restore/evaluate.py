"""Per-category PSNR/SSIM of one or more models on a split's pairs, with the input as baseline.

The average is over categories (the mean of the per-category means), as OneRestore reports
CDD-11, so a category with more images does not dominate.
"""

from __future__ import annotations

import csv
import json
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shared.cache import MANIFEST_FILE, CacheError, EmbeddingCache
from shared.contract import (
    RUNS_DIR,
    Fingerprint,
    cache_folder,
    checkpoint_name,
    newest_run,
    read_binding,
    run_stage_one,
    true_prompt_fingerprint,
)
from shared.degrade import CDD11_CATEGORIES, CLEAR
from shared.errors import ImageReadError, RestoreError
from shared.fileio import atomic_path
from shared.grid import labelled_grid
from shared.image_io import load_image, save_image
from shared.metrics import psnr, ssim
from shared.pairs import PairRow
from shared.splits import Split
from stage2_restore.data import descriptor_inputs
from stage2_restore.inference import restore_image
from stage2_restore.network import SHIPPED_RESTORER, Restorer

Model = Callable[[np.ndarray, PairRow], np.ndarray]
"""A restorer as the evaluator sees it: (degraded RGB, its manifest row) -> restored RGB."""

REPORT_COLUMNS = ("split", "model", "category", "images", "psnr", "ssim", "seconds_per_image")
AVERAGE = "average"


@dataclass(frozen=True)
class PairScore:
    """Metrics of one model on one pair."""

    model: str
    image_id: str
    category: str
    psnr: float
    ssim: float
    seconds: float


@dataclass(frozen=True)
class SummaryRow:
    """Mean metrics of one model on one category (or the category average)."""

    model: str
    category: str
    images: int
    psnr: float
    ssim: float
    seconds_per_image: float


def identity(degraded: np.ndarray, row: PairRow) -> np.ndarray:
    """The input baseline: the degraded image itself."""
    return degraded


def vectors_fingerprint(checkpoint: str | Path, true_prompts: bool = False) -> Fingerprint:
    """The fingerprint of the vectors `checkpoint` reads: its binding, or that binding's true-prompt oracle."""
    fingerprint = read_binding(checkpoint)
    return true_prompt_fingerprint(fingerprint) if true_prompts else fingerprint


def checkpoint_model(
    checkpoint: str | Path, split_cache: Path, tile: int = 512, overlap: int = 32, true_prompts: bool = False
) -> tuple[str, Model]:
    """(name, model) of a checkpoint, reading each image's vector from the split's cache of the same
    fingerprint (with `true_prompts`, from the cache whose prompts were worded from the true labels)."""
    restorer = Restorer.from_pretrained(checkpoint)
    name = checkpoint_name(checkpoint)
    fingerprint = vectors_fingerprint(checkpoint, true_prompts)
    folder = cache_folder(split_cache.parent, split_cache.name, fingerprint)
    if not folder.is_dir():
        raise CacheError(
            f"{folder}: {name} was trained on {fingerprint.embedder} vectors (prompter {fingerprint.prompter_hash}); "
            f"embed this split with the same embedder and prompter first (restore-embed build --split ...)"
        )
    cache = EmbeddingCache(folder, expected=fingerprint)
    classes = restorer.config.static_classes

    def run(degraded: np.ndarray, row: PairRow) -> np.ndarray:
        record = cache[row.key]
        return restore_image(restorer, degraded, descriptor_inputs(record, classes), tile, overlap)

    return name, run


@dataclass(frozen=True)
class Contender:
    """A checkpoint to score, under the name its report rows carry, and what it is (for the reader)."""

    name: str
    path: Path
    role: str


def contenders(specs: Sequence[str] = (), runs_dir: str | Path = RUNS_DIR) -> list[Contender]:
    """The checkpoints of `restore-eval`: each --checkpoint [NAME=]PATH, or with none the newest run
    under runs_dir (if any) and the shipped restorer. Names are made unique."""
    found = []
    for spec in specs:
        given, _, path = spec.rpartition("=")
        found.append(Contender(given or checkpoint_name(path), Path(path), f"--checkpoint {path}"))
    if not specs:
        run = newest_run(runs_dir)
        if run is not None:
            found.append(Contender(checkpoint_name(run), run, f"the newest run on this machine ({run})"))
        found.append(Contender("shipped", SHIPPED_RESTORER, "the shipped restorer"))
    names: set[str] = {"input"}
    unique = []
    for index, contender in enumerate(found, start=1):
        name = contender.name if contender.name not in names else f"{contender.name}-{index}"
        names.add(name)
        unique.append(Contender(name, contender.path, contender.role))
    return unique


def embed_split_for(
    checkpoint: str | Path, split: Split, cache_dir: str | Path, data_root: str | Path | None = None, true_prompts: bool = False
) -> bool:
    """Run stage one on `split` with the checkpoint's embedder and prompter unless its vectors are complete; True if it ran."""
    fingerprint = vectors_fingerprint(checkpoint, true_prompts)
    manifest = cache_folder(cache_dir, split.slug, fingerprint) / MANIFEST_FILE
    if manifest.is_file() and json.loads(manifest.read_text()).get("complete"):
        return False
    arguments = ["--split", split.name, "--cache-dir", str(cache_dir), *(["--data-root", str(data_root)] if data_root else [])]
    arguments += ["--true-prompts"] if true_prompts else []
    run_stage_one(fingerprint, "build", arguments, source=str(checkpoint))
    return True


def limit_images(rows: Sequence[PairRow], count: int | None) -> list[PairRow]:
    """The rows of the first `count` image ids (all rows when count is None)."""
    if count is None:
        return list(rows)
    keep = set(sorted({r.image_id for r in rows})[:count])
    return [r for r in rows if r.image_id in keep]


def score_pairs(
    rows: Sequence[PairRow],
    models: dict[str, Model],
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[list[PairScore], list[dict]]:
    """Score every model on every pair; unreadable pairs are listed as failures and skipped."""
    scores, failures = [], []
    for index, row in enumerate(rows):
        try:
            if row.clean is None:
                raise ImageReadError(f"{row.degraded}: no ground truth for this image")
            degraded = load_image(row.degraded).rgb
            clean = load_image(row.clean).rgb
            if degraded.shape != clean.shape:
                raise ImageReadError(f"{row.degraded}: size {degraded.shape[:2]} differs from its ground truth {clean.shape[:2]}")
        except ImageReadError as exc:
            failures.append({"image_id": row.image_id, "category": row.category, "error": str(exc)})
        else:
            for name, model in models.items():
                start = time.perf_counter()
                try:
                    restored = model(degraded, row)
                except RestoreError as exc:
                    failures.append({"image_id": row.image_id, "category": row.category, "error": f"{name}: {exc}"})
                    continue
                elapsed = time.perf_counter() - start
                scores.append(PairScore(name, row.image_id, row.category, psnr(clean, restored), ssim(clean, restored), elapsed))
        if on_progress:
            on_progress(index + 1, len(rows))
    return scores, failures


def summarize(scores: Sequence[PairScore]) -> list[SummaryRow]:
    """Per (model, category) means, then each model's average over the degraded categories (clear, the
    identity test where the input scores infinity, keeps its own row out of the average)."""
    groups: dict[tuple[str, str], list[PairScore]] = defaultdict(list)
    for score in scores:
        groups[(score.model, score.category)].append(score)
    rows: list[SummaryRow] = []
    order = {category: index for index, category in enumerate(CDD11_CATEGORIES)}
    for model in dict.fromkeys(s.model for s in scores):
        per_category = []
        for (m, category), group in groups.items():
            if m != model:
                continue
            finite = [g.psnr for g in group if np.isfinite(g.psnr)]
            per_category.append(
                SummaryRow(model, category, len(group), float(np.mean(finite)) if finite else float("inf"),
                           float(np.mean([g.ssim for g in group])), float(np.mean([g.seconds for g in group])))
            )  # fmt: skip
        rows.extend(sorted(per_category, key=lambda r: (order.get(r.category, len(order)), r.category)))
        averaged = [r for r in per_category if r.category != CLEAR] or per_category
        rows.append(
            SummaryRow(model, AVERAGE, sum(r.images for r in averaged),
                       float(np.mean([r.psnr for r in averaged])), float(np.mean([r.ssim for r in averaged])),
                       float(np.mean([r.seconds_per_image for r in averaged])))
        )  # fmt: skip
    return rows


def write_report(path: str | Path, split: str, summary: Sequence[SummaryRow]) -> Path:
    """Write the summary as CSV with REPORT_COLUMNS, atomically."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(REPORT_COLUMNS)
        for row in summary:
            writer.writerow(
                [split, row.model, row.category, row.images, f"{row.psnr:.4f}", f"{row.ssim:.5f}", f"{row.seconds_per_image:.4f}"]
            )
    return path


def write_grid(path: str | Path, rows: Sequence[PairRow], models: dict[str, Model], count: int = 4, side: int = 240) -> Path:
    """PNG of `count` pairs (distinct categories first): input | each model (with PSNR) | ground truth."""
    chosen, seen = [], set()
    for row in rows:
        if row.category not in seen and row.clean is not None:
            chosen.append(row)
            seen.add(row.category)
    chosen = (chosen + [r for r in rows if r not in chosen and r.clean is not None])[:count]
    lines = []
    for row in chosen:
        degraded, clean = load_image(row.degraded).rgb, load_image(row.clean).rgb
        line = [(degraded, f"{row.category} {psnr(clean, degraded):.1f} dB")]
        for name, model in models.items():
            restored = model(degraded, row)
            line.append((restored, f"{name} {psnr(clean, restored):.1f} dB"))
        lines.append(line + [(clean, "ground truth")])
    return save_image(path, labelled_grid(lines, side).astype(np.float32) / 255.0)
