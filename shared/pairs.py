"""Degraded/clean pairs of a split, written once under cache/<split>/pairs/ with a JSONL manifest.

Stage one and stage two both read pixels from here, so they see the very same degradations.
A split holds `variants` independent composites per (photo, category), each reproducible from
(seed, photo, category, variant) alone (`resynthesize`); its manifest row names the generator
families and their parameters. Pixels are stored rather than re-synthesized while training: a
composite costs about 40 ms of CPU per 512 px photo, a stored one a PNG decode once (README: Degradations).
A build appends each finished photo's rows to manifest.partial.jsonl, so an interrupted build
resumes where it stopped; the final manifest.jsonl is written atomically at the end.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from skimage.transform import resize

from shared.cache import cache_key
from shared.config import load_config, save_config
from shared.degrade import CDD11_CATEGORIES, CLEAR, DegradationModel, components_of
from shared.degrade.composite import stable_id_hash
from shared.errors import ConfigError, ImageReadError, SplitError
from shared.fileio import atomic_write_text
from shared.image_io import fit_max_side, save_image, to_uint8
from shared.splits import CleanPhoto, Split

MANIFEST = "manifest.jsonl"
PARTIAL = "manifest.partial.jsonl"
FAILURES = "failures.jsonl"
SPLIT_CONFIG = "split.json"
LOCK = "build.lock"


@dataclass(frozen=True)
class SynthesisConfig:
    """How a split's clean photos become pairs; saved as split.json beside the manifest."""

    seed: int = 0
    categories: tuple[str, ...] = CDD11_CATEGORIES
    per_image: int | None = None
    """Degraded categories drawn per photo and variant (seeded), plus "clear" when listed; None makes every category."""
    variants: int = 1
    """Independent composites per (photo, category); "clear" is made once."""
    max_side: int | None = 512
    """Photos larger than this are downscaled (anti-aliased) first; None keeps full size."""
    model: DegradationModel = field(default_factory=DegradationModel)

    def __post_init__(self) -> None:
        for category in self.categories:
            components_of(category)
        if self.variants < 1:
            raise ConfigError(f"variants must be at least 1, got {self.variants}")
        if self.per_image is not None and self.per_image < 1:
            raise ConfigError(f"per_image must be at least 1 (or None for every category), got {self.per_image}")


@dataclass(frozen=True)
class PairRow:
    """One manifest row; paths are absolute once read back."""

    image_id: str
    category: str
    degraded: Path
    clean: Path | None
    source: str
    params: dict = field(default_factory=dict)
    variant: int = 0

    @property
    def key(self) -> str:
        """This row's id in an embedding cache."""
        return cache_key(self.image_id, self.category, self.variant)

    def to_json(self, base: Path) -> str:
        def rel(path: Path | None) -> str | None:
            if path is None:
                return None
            return str(path.relative_to(base)) if path.is_relative_to(base) else str(path)

        row = {"image_id": self.image_id, "category": self.category, "degraded": rel(self.degraded),
               "clean": rel(self.clean), "source": self.source, "params": self.params, "variant": self.variant}  # fmt: skip
        return json.dumps(row, sort_keys=True)

    @classmethod
    def from_json(cls, line: str, base: Path) -> PairRow:
        return cls.from_dict(json.loads(line), base)

    @classmethod
    def from_dict(cls, row: dict, base: Path) -> PairRow:
        return cls(
            image_id=row["image_id"],
            category=row["category"],
            degraded=base / row["degraded"],
            clean=base / row["clean"] if row["clean"] else None,
            source=row["source"],
            params=row.get("params", {}),
            variant=row.get("variant", 0),
        )


@dataclass(frozen=True)
class PairsReport:
    """What a build did: rows in the manifest, photos built now, already there, and failures."""

    pairs_dir: Path
    rows: list[PairRow]
    built: int
    reused: int
    failures: list[dict]


@contextmanager
def _build_lock(directory: Path, wait_seconds: float):
    """One build per pairs folder at a time (two would synthesize the same photos into one manifest);
    another process, e.g. a second torchrun worker, waits for it and then finds the pairs built."""
    lock = directory / LOCK
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            handle = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            try:
                owner, age = lock.read_text().strip(), time.time() - lock.stat().st_mtime
            except FileNotFoundError:
                continue
            if (owner.isdigit() and not _alive(int(owner))) or (not owner and age > 10):
                lock.unlink(missing_ok=True)  # left behind by a killed build
            elif time.monotonic() > deadline:
                raise SplitError(f"{directory}: another build of this split is running (pid {owner}); wait for it to finish") from None
            else:
                time.sleep(0.2)
    os.write(handle, str(os.getpid()).encode())
    os.close(handle)
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _finished(directory: Path) -> PairsReport:
    return PairsReport(directory, read_pairs(directory), 0, 0, _read_jsonl(directory / FAILURES))


def default_synthesis(split: Split) -> SynthesisConfig:
    """A new split's synthesis: its own seed and its own family set (the training families unless the split names another)."""
    return SynthesisConfig(seed=split.default_seed, model=DegradationModel.from_family_set(split.family_set))


def pairs_dir(cache_root: str | Path, split: Split) -> Path:
    """Where a split's pairs live."""
    return Path(cache_root) / split.slug / "pairs"


def read_pairs(directory: str | Path) -> list[PairRow]:
    """Rows of a finished manifest; a missing one raises SplitError with the command that builds it."""
    directory = Path(directory)
    manifest = directory / MANIFEST
    if not manifest.is_file():
        raise SplitError(f"{manifest}: no pairs manifest; build the split first (restore-embed pairs --split ...)")
    return [PairRow.from_json(line, directory) for line in manifest.read_text().splitlines() if line.strip()]


def _read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            break  # a line cut by a kill mid-write: everything before it is intact
    return rows


def _saved_config(directory: Path) -> SynthesisConfig:
    try:
        return load_config(SynthesisConfig, directory / SPLIT_CONFIG)
    except ConfigError as exc:
        raise SplitError(f"{directory} was built by another version of the synthesizer ({exc}); "
                         "delete that folder to rebuild, or use another --cache-dir") from None  # fmt: skip


def _check_config(directory: Path, config: SynthesisConfig) -> None:
    if not (directory / SPLIT_CONFIG).is_file():
        return
    existing = _saved_config(directory)
    if existing != config:
        raise SplitError(
            f"{directory} was built with another synthesis config (seed {existing.seed}, "
            f"{len(existing.categories)} categories, {existing.variants} variants); "
            "delete that folder to rebuild, or use another --cache-dir"
        )


def _categories_for(image_id: str, config: SynthesisConfig, variant: int) -> tuple[str, ...]:
    """The categories of one variant of a photo; with per_image, "clear" (free, and every photo's clean side) is always kept."""
    if config.per_image is None or config.per_image >= len(config.categories):
        return config.categories
    degraded = [c for c in config.categories if c != CLEAR]
    rng = np.random.default_rng([config.seed, stable_id_hash(image_id), 999] + ([variant] if variant else []))
    chosen = {degraded[i] for i in rng.choice(len(degraded), size=min(config.per_image, len(degraded)), replace=False)}
    return tuple(c for c in config.categories if c in chosen or c == CLEAR)


def _prepare(photo: CleanPhoto, max_side: int | None) -> tuple[np.ndarray, np.ndarray | None]:
    """The clean photo as it is stored (downscaled, quantised to 8 bits) and its depth map, if any."""
    clean = fit_max_side(photo.load(), max_side)
    depth = photo.depth()
    if depth is not None:
        depth = fit_max_side(depth[..., None], max_side)[..., 0]
        if depth.shape != clean.shape[:2]:
            depth = resize(depth, clean.shape[:2], preserve_range=True).astype(np.float32)
    # Quantise once, and degrade the quantised clean, so the pair on disk is exactly what we describe.
    return to_uint8(clean) / 255, depth


def _degraded_name(image_id: str, variant: int) -> str:
    return f"{image_id}.png" if variant == 0 else f"{image_id}.v{variant}.png"


def _synthesize_photo(photo: CleanPhoto, directory: Path, config: SynthesisConfig) -> list[PairRow]:
    clean, depth = _prepare(photo, config.max_side)
    clean_path = save_image(directory / "clean" / f"{photo.image_id}.png", clean)
    rows = []
    for variant in range(config.variants):
        for category in _categories_for(photo.image_id, config, variant):
            if category == CLEAR:
                if variant == 0:
                    rows.append(PairRow(photo.image_id, category, clean_path, clean_path, photo.source))
                continue
            degraded, params = config.model.degrade(clean, category, photo.image_id, config.seed, depth, variant)
            degraded_path = save_image(directory / "degraded" / category / _degraded_name(photo.image_id, variant), degraded)
            rows.append(PairRow(photo.image_id, category, degraded_path, clean_path, photo.source, params, variant))
    return rows


def resynthesize(row: PairRow, config: SynthesisConfig, photo: CleanPhoto) -> np.ndarray:
    """The degraded image of a manifest row made again from its clean photo: equal to the stored PNG."""
    clean, depth = _prepare(photo, config.max_side)
    if row.category == CLEAR:
        return clean.astype(np.float32)
    degraded, _ = config.model.degrade(clean, row.category, row.image_id, config.seed, depth, row.variant)
    return to_uint8(degraded).astype(np.float32) / 255


_PHOTOS: list[CleanPhoto] = []
"""The photos of the build in progress, for the worker processes forked from it: their loaders are
closures, which a process pool cannot pickle, so a worker is handed an index into this list."""


def _synthesize_one(task: tuple[int, Path, SynthesisConfig]) -> tuple[list[PairRow], dict | None]:
    """The rows of photo _PHOTOS[index], or the failure of a photo that cannot be read."""
    index, directory, config = task
    photo = _PHOTOS[index]
    try:
        return _synthesize_photo(photo, directory, config), None
    except ImageReadError as exc:
        return [], {"source": photo.source, "error": str(exc)}


def _synthesized(
    photos: list[CleanPhoto], pending: list[int], directory: Path, config: SynthesisConfig, workers: int
) -> Iterator[tuple[list[PairRow], dict | None]]:
    """(rows, failure) for each pending photo, in order; `workers` > 1 synthesizes in forked processes."""
    global _PHOTOS
    tasks = [(index, directory, config) for index in pending]
    _PHOTOS = photos
    try:
        if workers <= 1 or len(tasks) <= 1:
            yield from map(_synthesize_one, tasks)
            return
        # Fork: the workers inherit _PHOTOS; every composite is seeded by (seed, photo, category, variant), so the pairs
        # are the same whichever process makes them.
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            yield from pool.imap(_synthesize_one, tasks)
    finally:
        _PHOTOS = []


def build_pairs(
    split: Split,
    cache_root: str | Path,
    config: SynthesisConfig | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    wait_seconds: float = 3600.0,
    workers: int = 1,
) -> PairsReport:
    """Write (once) the pairs of `split` under cache_root; bad photos are listed in failures and skipped.

    Without a `config`, a split already (partly) built keeps the config it was built with, and a
    new one gets the defaults with the split's own seed and family set. `workers` processes
    synthesize photos side by side (the pairs are the same for any number).
    """
    directory = pairs_dir(cache_root, split)
    if config is None:
        saved = directory / SPLIT_CONFIG
        config = _saved_config(directory) if saved.is_file() else default_synthesis(split)
    _check_config(directory, config)
    if (directory / MANIFEST).is_file():
        return _finished(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with _build_lock(directory, wait_seconds):
        if (directory / MANIFEST).is_file():  # built by the process we waited for
            return _finished(directory)
        save_config(config, directory / SPLIT_CONFIG)

        done_rows = [PairRow.from_dict(r, directory) for r in _read_jsonl(directory / PARTIAL)]
        done_ids = {row.image_id for row in done_rows}
        failures: list[dict] = []
        built = 0
        if split.ready_pairs is not None:
            rows, failures = _ready_rows(split)
        else:
            photos = split.clean_photos()
            rows = list(done_rows)
            pending = [index for index, photo in enumerate(photos) if photo.image_id not in done_ids]
            if on_progress and len(pending) < len(photos):
                on_progress(len(photos) - len(pending), len(photos))
            with open(directory / PARTIAL, "a") as partial:
                for done, (new_rows, failure) in enumerate(_synthesized(photos, pending, directory, config, workers)):
                    if failure:
                        failures.append(failure)
                    else:
                        partial.write("".join(row.to_json(directory) + "\n" for row in new_rows))
                        partial.flush()
                        rows.extend(new_rows)
                        built += 1
                    if on_progress:
                        on_progress(len(photos) - len(pending) + done + 1, len(photos))
        rows.sort(key=lambda r: (r.image_id, r.variant, r.category))
        atomic_write_text(directory / FAILURES, "".join(json.dumps(f) + "\n" for f in failures))
        atomic_write_text(directory / MANIFEST, "".join(row.to_json(directory) + "\n" for row in rows))
        (directory / PARTIAL).unlink(missing_ok=True)
        return PairsReport(directory, rows, built, len(done_ids), failures)


def _ready_rows(split: Split) -> tuple[list[PairRow], list[dict]]:
    rows, failures = [], []
    for pair in split.ready_pairs():
        if pair.clean is None:
            failures.append(
                {
                    "source": str(pair.degraded),
                    "error": f"{pair.degraded}: no ground truth of that name (in clear/, or target/ for paired splits)",
                }
            )
            continue
        # Absolute: the manifest stores paths outside the cache as given, and a relative one would be read from the wrong folder.
        rows.append(PairRow(pair.image_id, pair.category, pair.degraded.resolve(), pair.clean.resolve(), str(pair.degraded)))
    return rows, failures
