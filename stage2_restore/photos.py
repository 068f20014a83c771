"""Restore a user's own photos: stage one embeds them (a subprocess), the shipped restorer does the rest.

Stage two never imports stage one: shared.contract runs `restore-embed photos` with the embedder,
model and prompter the checkpoint's fingerprint names, into a temporary folder, and the vectors
are read back through the HDF5 cache schema, refused if their fingerprint is not the checkpoint's.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shared.cache import EmbeddingCache, EmbeddingRecord
from shared.contract import PHOTO_CATEGORY, Fingerprint, cache_folder, cache_key, photo_image_id, read_binding, run_stage_one
from shared.errors import CacheError, ConfigError, ImageReadError, ImageWriteError
from shared.grid import labelled_grid
from shared.image_io import IMAGE_SUFFIXES, SAVE_FORMATS, load_image, save_image
from stage2_restore.data import descriptor_inputs
from stage2_restore.inference import check_tiling, restore_image
from stage2_restore.network import SHIPPED_RESTORER, Restorer

__all__ = ["SHIPPED_RESTORER", "PhotoJob", "PhotoResult", "RestoreOptions", "embed_photos", "plan_jobs", "restore_photos"]
COMPARE_SUFFIX = ".compare.png"


SURE = 0.9
"""Default of RestoreOptions.sure: chosen on validation (docs/results/caution_sweep.py)."""
KEEP_CLEAR = 0.6
"""Default of RestoreOptions.keep_clear: the most cautious value within 0.1 dB of 0.8 on every
validation set (docs/results/caution_sweep.py; 0.5 cost 0.12 dB on the held-out families)."""


def caution_of(evidence: float, sure: float) -> float:
    """Share of the restoration to apply when the prompter gives its strongest degradation probability
    `evidence`: all of it from `sure` up, none at 0.5 (a coin flip) or below, linear in between. A wrong
    prompt makes the restorer do the wrong thing, so doubt moves the output back toward the photo."""
    if evidence >= sure or sure <= 0.5:
        return 1.0
    return max(0.0, (evidence - 0.5) / (sure - 0.5))


def blend(restored: np.ndarray, degraded: np.ndarray, share: float) -> np.ndarray:
    """`share` of the restoration on top of the input (1: the restorer's output)."""
    return restored if share >= 1.0 else share * restored + (1.0 - share) * degraded


@dataclass(frozen=True)
class RestoreOptions:
    """How `restore` treats every photo of one run."""

    prompt: str | None = None
    """Steer instead of detecting, e.g. "haze and heavy rain"."""
    strength: float = 1.0
    """1 keeps the restorer's output, 0 the input; in between blends linearly."""
    compare: bool = False
    overwrite: bool = False
    tile: int = 512
    overlap: int = 32
    keep_clear: float = KEEP_CLEAR
    """A photo the prompter calls clear with at least this confidence in every label is returned as it is."""
    sure: float = SURE
    """Probability of the strongest detected degradation from which its restoration is applied in full."""

    def __post_init__(self) -> None:
        if self.keep_clear < 0.5:
            raise ConfigError(f"--keep-clear {self.keep_clear}: must be at least 0.5 (above 1 never keeps a photo as is)")
        if not 0.5 <= self.sure <= 1.0:
            raise ConfigError(f"--sure {self.sure}: must be between 0.5 (always restore in full) and 1")
        if not 0.0 <= self.strength <= 1.0:
            raise ConfigError(f"--strength {self.strength}: must be between 0 and 1")
        check_tiling(self.tile, self.overlap)


@dataclass(frozen=True)
class PhotoJob:
    """One photo and where its restored version goes."""

    source: Path
    output: Path


@dataclass(frozen=True)
class PhotoResult:
    """What happened to one photo: status is "restored", "clear" (confidently clean: written unchanged),
    "exists" (kept, not overwritten) or "failed"."""

    job: PhotoJob
    status: str
    prompt: str = ""
    confidence: float = 1.0
    """The prompter's confidence in its least certain label decision (1 when steered)."""
    applied: float = 1.0
    """Share of the restoration in the output: --strength times the caution of an unsure prompt."""
    error: str = ""
    seconds: float = 0.0
    size: tuple[int, int] = (0, 0)
    compare: Path | None = None


def plan_jobs(source: str | Path, output: str | Path) -> list[PhotoJob]:
    """Jobs for `restore SOURCE -o OUTPUT`: a file to a file (or into a folder), a folder to a folder.

    A folder's photos keep their sub-folders and get PNG outputs (lossless, 16-bit and alpha kept);
    photos whose names differ only by suffix (a.jpg, a.png) keep it (a.jpg.png, a.png.png), so no
    output is written twice. When OUTPUT lies inside SOURCE, files already under it are never taken as inputs.
    """
    source, output = Path(source), Path(output)
    if not source.exists():
        raise ConfigError(f"{source}: no such file or folder")
    if source.is_file():
        if output.is_dir() or output.suffix == "":
            return [PhotoJob(source, output / f"{source.stem}.restored.png")]
        if output.suffix.lower() not in SAVE_FORMATS:
            raise ConfigError(f"{output}: cannot write {output.suffix} files; use one of {', '.join(sorted(SAVE_FORMATS))}")
        return [PhotoJob(source, output)]
    if output.is_file():
        raise ConfigError(f"{output}: is a file; the output of a folder must be a folder")
    inside, root = output.resolve(), source.resolve()
    if inside == root:
        raise ConfigError(f"{output}: is the folder of the photos; choose another output folder, e.g. {output / 'restored'}")
    earlier = inside if inside.is_relative_to(root) else None
    files = sorted(
        p for p in source.rglob("*")
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not (earlier and p.resolve().is_relative_to(earlier))
        and not p.name.endswith(COMPARE_SUFFIX)
    )  # fmt: skip
    if not files:
        raise ConfigError(f"{source}: no photos here ({', '.join(sorted(IMAGE_SUFFIXES))})")
    names = [p.relative_to(source) for p in files]
    stems = Counter(name.with_suffix("") for name in names)
    suffixes = [name.suffix + ".png" if stems[name.with_suffix("")] > 1 else ".png" for name in names]
    return [PhotoJob(p, output / name.with_suffix(suffix)) for p, name, suffix in zip(files, names, suffixes, strict=True)]


def embed_photos(
    paths: Sequence[Path], fingerprint: Fingerprint, work_dir: Path, prompt: str | None = None, source: str = "checkpoint"
) -> EmbeddingCache:
    """Run stage one on `paths` with the models `fingerprint` names; photo i's vector is at cache_key(photo_image_id(i), PHOTO_CATEGORY)."""
    listing = work_dir / "photos.txt"
    listing.write_text("".join(f"{p.resolve()}\n" for p in paths))
    arguments = ["--list", str(listing), "--out", str(work_dir)] + (["--prompt", prompt] if prompt is not None else [])
    run_stage_one(fingerprint, "photos", arguments, source)
    folder = cache_folder(work_dir.parent, work_dir.name, fingerprint)
    if not folder.is_dir():
        made = next((p for p in work_dir.iterdir() if (p / "fingerprint.json").is_file()), None)
        if made is None:
            raise CacheError(f"stage one wrote no vectors into {work_dir}")
        folder = made
    return EmbeddingCache(folder, expected=fingerprint)


def is_confidently_clear(record: EmbeddingRecord, threshold: float) -> bool:
    """No degradation detected, and every label's absence at least `threshold` likely: leave the photo alone."""
    return not record.labels.any() and float(record.confidence().min()) >= threshold


def restoration_share(record: EmbeddingRecord, keep_clear: float, sure: float) -> float:
    """How much of the restoration `restore` applies to the photo of `record` (before --strength):
    none to a confidently clear photo; for a degraded one, all of it when the prompter is at least
    `sure` of its strongest degradation, less below (caution_of). A photo called clear with less
    than `keep_clear` confidence is restored in full: the restorer was trained to leave clear photos
    as they are, and it removes part of a degradation the prompter nearly saw."""
    if is_confidently_clear(record, keep_clear):
        return 0.0
    present = record.labels.astype(bool)
    if not present.any():
        return 1.0
    return caution_of(float(record.presence_probabilities()[present].max()), sure)


def restore_loaded(
    model: Restorer, rgb: np.ndarray, record: EmbeddingRecord, strength: float = 1.0, tile: int = 512, overlap: int = 32
) -> np.ndarray:
    """The restored RGB of one photo, blended with the input by `strength`."""
    restored = restore_image(model, rgb, descriptor_inputs(record, model.config.static_classes), tile, overlap)
    return blend(restored, rgb, strength)


def comparison_image(before: np.ndarray, after: np.ndarray, prompt: str, side: int = 768) -> np.ndarray:
    """Side-by-side uint8 image: input labelled with the prompt, then the restored photo."""
    return labelled_grid([[(before, prompt), (after, "restored")]], side)


def restore_photos(
    jobs: Sequence[PhotoJob],
    checkpoint: str | Path = SHIPPED_RESTORER,
    options: RestoreOptions | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[PhotoResult]:
    """Restore every job whose output is missing (or all, with overwrite); one bad photo never stops the rest."""
    options = options or RestoreOptions()
    fingerprint = read_binding(checkpoint)
    model = Restorer.from_pretrained(checkpoint)
    results: dict[PhotoJob, PhotoResult] = {}
    pending = []
    for job in jobs:
        if job.output.exists() and not options.overwrite:
            results[job] = PhotoResult(job, "exists", error=f"{job.output} exists; kept (pass --overwrite to replace it)")
        else:
            pending.append(job)
    if pending:
        with tempfile.TemporaryDirectory(prefix="restore-") as work:
            cache = embed_photos([job.source for job in pending], fingerprint, Path(work), options.prompt, str(checkpoint))
            try:
                failures = {failure.id: failure.error for failure in cache.failures()}
                for index, job in enumerate(pending):
                    results[job] = _restore_one(model, cache, cache_key(photo_image_id(index), PHOTO_CATEGORY), failures, job, options)
                    if on_progress:
                        on_progress(index + 1, len(pending))
            finally:
                cache.close()
    return [results[job] for job in jobs]


def _restore_one(model: Restorer, cache: EmbeddingCache, key: str, failures: dict, job: PhotoJob, options: RestoreOptions) -> PhotoResult:
    if key not in cache:
        return PhotoResult(job, "failed", error=failures.get(key, f"{job.source}: stage one produced no vector"))
    start = time.perf_counter()
    record = cache[key]
    confidence = float(record.confidence().min())
    keep = options.prompt is None and is_confidently_clear(record, options.keep_clear)
    share = 1.0 if options.prompt is not None else restoration_share(record, options.keep_clear, options.sure)
    applied = share * options.strength
    try:
        compare = job.output.with_name(job.output.stem + COMPARE_SUFFIX) if options.compare else None
        if compare and compare.exists() and not options.overwrite:  # refused before the photo is read and restored for nothing
            raise ImageWriteError(f"{compare} exists; kept (move it away, or pass --overwrite to replace it)")
        loaded = load_image(job.source)
        restored = loaded.rgb if applied == 0 else restore_loaded(model, loaded.rgb, record, applied, options.tile, options.overlap)
        save_image(job.output, restored, loaded.alpha, loaded.bit_depth)
        if compare:
            save_image(compare, comparison_image(loaded.rgb, restored, record.prompt).astype(np.float32) / 255.0)
    except (ImageReadError, ImageWriteError, OSError) as exc:
        return PhotoResult(job, "failed", record.prompt, confidence, error=str(exc))
    except (MemoryError, RuntimeError) as exc:  # one photo too large for this machine must not stop the others
        out_of_memory = isinstance(exc, MemoryError) or "memory" in str(exc).lower()
        reason = "out of memory; try a smaller --tile" if out_of_memory else f"{type(exc).__name__}: {exc}"
        return PhotoResult(job, "failed", record.prompt, confidence, error=f"{job.source}: {reason}")
    status = "clear" if keep else "restored"
    return PhotoResult(job, status, record.prompt, confidence, applied, seconds=time.perf_counter() - start, size=loaded.size,
                       compare=compare)  # fmt: skip
