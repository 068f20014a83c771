"""Restore a user's own photos: stage one embeds them (a subprocess), the shipped restorer does the rest.

Stage two never imports stage one: it runs `python -m stage1_embed.cli photos` with the embedder
the checkpoint was trained on, into a temporary folder, and reads the vectors back through the
HDF5 cache schema, refusing them if their fingerprint is not the checkpoint's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shared.cache import MANIFEST_FILE, PHOTO_CATEGORY, CacheError, EmbeddingCache, EmbeddingRecord, Fingerprint, cache_key, photo_image_id
from shared.errors import ConfigError, ImageReadError, ImageWriteError, RestoreError
from shared.grid import labelled_grid
from shared.image_io import IMAGE_SUFFIXES, SAVE_FORMATS, load_image, save_image
from stage2_restore.data import descriptor_inputs
from stage2_restore.inference import restore_image
from stage2_restore.network import Restorer, checkpoint_fingerprint

SHIPPED_RESTORER = Path(__file__).parent / "weights" / "restorer"
COMPARE_SUFFIX = ".compare.png"


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

    def __post_init__(self) -> None:
        if not 0.0 <= self.strength <= 1.0:
            raise ConfigError(f"--strength {self.strength}: must be between 0 and 1")
        if self.tile < 64 or not 0 <= self.overlap < self.tile // 2:
            raise ConfigError(f"--tile {self.tile} --overlap {self.overlap}: need tile >= 64 and 0 <= overlap < tile/2")


@dataclass(frozen=True)
class PhotoJob:
    """One photo and where its restored version goes."""

    source: Path
    output: Path


@dataclass(frozen=True)
class PhotoResult:
    """What happened to one photo: status is "restored", "exists" (kept, not overwritten) or "failed"."""

    job: PhotoJob
    status: str
    prompt: str = ""
    error: str = ""
    seconds: float = 0.0
    size: tuple[int, int] = (0, 0)
    compare: Path | None = None


def plan_jobs(source: str | Path, output: str | Path) -> list[PhotoJob]:
    """Jobs for `restore SOURCE -o OUTPUT`: a file to a file (or into a folder), a folder to a folder.

    A folder's photos keep their sub-folders and get PNG outputs (lossless, 16-bit and alpha kept);
    files already under OUTPUT are never taken as inputs.
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
    inside = output.resolve()
    files = sorted(
        p for p in source.rglob("*")
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.resolve().is_relative_to(inside)
        and not p.name.endswith(COMPARE_SUFFIX)
    )  # fmt: skip
    if not files:
        raise ConfigError(f"{source}: no photos here ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return [PhotoJob(p, output / p.relative_to(source).with_suffix(".png")) for p in files]


def embed_photos(paths: Sequence[Path], fingerprint: Fingerprint, work_dir: Path, prompt: str | None = None) -> EmbeddingCache:
    """Run stage one on `paths` with the checkpoint's embedder; photo i's vector is at cache_key(photo_image_id(i), PHOTO_CATEGORY)."""
    listing = work_dir / "photos.txt"
    listing.write_text("".join(f"{p.resolve()}\n" for p in paths))
    command = [sys.executable, "-m", "stage1_embed.cli", "photos", "--list", str(listing), "--out", str(work_dir),
               "--encoder", fingerprint.embedder]  # fmt: skip
    if fingerprint.embedder == "e5v":
        command += ["--model", fingerprint.weights_revision.split("@")[0]]
    if prompt is not None:
        command += ["--prompt", prompt]
    env = {**os.environ, "COLUMNS": "200", "TERM": "dumb"}
    finished = subprocess.run(command, capture_output=True, text=True, env=env)
    if finished.returncode != 0:
        lines = [line for line in finished.stderr.splitlines() if line.strip()]
        message = lines[-1].removeprefix("error: ") if lines else f"exit code {finished.returncode}"
        raise RestoreError(f"stage one (restore-embed photos) failed: {message}")
    folder = work_dir / fingerprint.directory_name
    if not folder.is_dir():
        made = next((p for p in work_dir.iterdir() if (p / "fingerprint.json").is_file()), None)
        if made is None:
            raise CacheError(f"stage one wrote no vectors into {work_dir}")
        folder = made
    return EmbeddingCache(folder, expected=fingerprint)


def photo_failures(cache: EmbeddingCache) -> dict[str, str]:
    """Stage one's per-photo failures, by cache id."""
    manifest = json.loads((cache.directory / MANIFEST_FILE).read_text())
    return {failure["id"]: failure["error"] for failure in manifest["failures"]}


def restore_loaded(
    model: Restorer, rgb: np.ndarray, record: EmbeddingRecord, strength: float = 1.0, tile: int = 512, overlap: int = 32
) -> np.ndarray:
    """The restored RGB of one photo, blended with the input by `strength`."""
    restored = restore_image(model, rgb, descriptor_inputs(record, model.config.static_classes), tile, overlap)
    if strength < 1.0:
        restored = strength * restored + (1.0 - strength) * rgb
    return restored


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
    fingerprint = checkpoint_fingerprint(checkpoint)
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
            cache = embed_photos([job.source for job in pending], fingerprint, Path(work), options.prompt)
            failures = photo_failures(cache)
            for index, job in enumerate(pending):
                results[job] = _restore_one(model, cache, cache_key(photo_image_id(index), PHOTO_CATEGORY), failures, job, options)
                if on_progress:
                    on_progress(index + 1, len(pending))
            cache.close()
    return [results[job] for job in jobs]


def _restore_one(model: Restorer, cache: EmbeddingCache, key: str, failures: dict, job: PhotoJob, options: RestoreOptions) -> PhotoResult:
    if key not in cache:
        return PhotoResult(job, "failed", error=failures.get(key, f"{job.source}: stage one produced no vector"))
    start = time.perf_counter()
    record = cache[key]
    try:
        loaded = load_image(job.source)
        restored = restore_loaded(model, loaded.rgb, record, options.strength, options.tile, options.overlap)
        save_image(job.output, restored, loaded.alpha, loaded.bit_depth)
        compare = None
        if options.compare:
            compare = job.output.with_name(job.output.stem + COMPARE_SUFFIX)
            save_image(compare, comparison_image(loaded.rgb, restored, record.prompt).astype(np.float32) / 255.0)
    except (ImageReadError, ImageWriteError, OSError) as exc:
        return PhotoResult(job, "failed", record.prompt, error=str(exc))
    return PhotoResult(job, "restored", record.prompt, seconds=time.perf_counter() - start, size=loaded.size, compare=compare)
