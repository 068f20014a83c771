"""Training batches: (degraded, clean, negatives) crops from splits' pairs, vectors from their caches.

Every batch is drawn from a generator seeded by (seed, step, rank), so a run resumed at step s
sees exactly the batches it would have seen, and DDP ranks see different ones. Decoded images
stay in memory (uint8) up to a budget, so after the first epoch a step reads no files.
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from shared.cache import EmbeddingCache, EmbeddingRecord
from shared.contract import category_of
from shared.degrade import CLEAR
from shared.errors import ImageReadError
from shared.image_io import load_image
from shared.pairs import PairRow


def static_class_of(labels: np.ndarray, classes: Sequence[str]) -> int:
    """Index of the scene class the assessor's weather labels name ('other' when not a class)."""
    name = category_of(labels)
    return classes.index(name) if name in classes else classes.index("other")


@dataclass(frozen=True)
class DescriptorInputs:
    """What either descriptor needs for one image: the cached vector and the static class."""

    embedding: np.ndarray
    class_index: int


def descriptor_inputs(record: EmbeddingRecord, classes: Sequence[str]) -> DescriptorInputs:
    return DescriptorInputs(record.embedding.astype(np.float32), static_class_of(record.labels, classes))


MAX_ATTEMPTS = 20
"""Rows with an unreadable image drawn in a row before a batch gives up: past that the data, not one file, is broken."""


class PixelCache:
    """Decoded images as uint8, least recently used evicted past `budget_megapixels`."""

    def __init__(self, budget_megapixels: float = 4000):
        self.budget = budget_megapixels * 1e6
        self.used = 0
        self.images: OrderedDict[str, np.ndarray] = OrderedDict()

    def get(self, path) -> np.ndarray:
        key = str(path)
        if key in self.images:
            self.images.move_to_end(key)
            return self.images[key]
        image = np.round(load_image(path).rgb * 255).astype(np.uint8)
        self.images[key] = image
        self.used += image.shape[0] * image.shape[1]
        while self.used > self.budget and len(self.images) > 1:
            _, old = self.images.popitem(last=False)
            self.used -= old.shape[0] * old.shape[1]
        return image


class TrainingPairs:
    """The rows of one or more splits that have a cached vector (each split read with its own cache), with same-scene
    negatives for each."""

    def __init__(
        self,
        sources: Sequence[tuple[Sequence[PairRow], EmbeddingCache]],
        classes: Sequence[str],
        negatives: int = 2,
        clear_fraction: float = 0.0,
        extra_fractions: Sequence[float] = (),
        misdirected_fraction: float = 0.0,
        focus: tuple[str, float] = ("", 0.0),
        overcalled_fraction: float = 0.0,
    ):
        """`extra_fractions`: the share of every batch drawn from each source after the first, among its degraded rows."""
        self.rows, self.inputs, self.scene_of, self.missing = [], [], [], 0
        for source, (rows, cache) in enumerate(sources):
            kept = [r for r in rows if r.key in cache and r.clean is not None]
            self.missing += len(rows) - len(kept)
            self.rows += kept
            self.inputs += [descriptor_inputs(cache[r.key], classes) for r in kept]
            self.scene_of += [(source, r.image_id) for r in kept]  # ids are unique within a split only
        self.negatives = negatives
        by_scene = defaultdict(list)
        for index, (row, scene) in enumerate(zip(self.rows, self.scene_of, strict=True)):
            if row.category != CLEAR:
                by_scene[scene].append(index)
        self.scenes = by_scene
        self.clear = [i for i, row in enumerate(self.rows) if row.category == CLEAR]
        self.degraded = [i for i, row in enumerate(self.rows) if row.category != CLEAR]
        self.clear_fraction = clear_fraction if self.clear and self.degraded else 0.0
        self.misdirectable = [i for i in self.clear if self.scenes.get(self.scene_of[i])]
        self.misdirected_fraction = misdirected_fraction if self.misdirectable else 0.0
        labels = [set(row.category.split("_")) for row in self.rows]  # a paired split's folder name is one label
        worse = {i: [j for j in by_scene[self.scene_of[i]] if labels[j] > labels[i]] for i in self.degraded}
        self.worse_versions = {i: versions for i, versions in worse.items() if versions}
        """Degraded row -> the versions of its photo that have every degradation it has and more."""
        self.overcallable = list(self.worse_versions)
        self.overcalled_fraction = overcalled_fraction if self.overcallable else 0.0
        label, fraction = focus
        self.focused = [i for i in self.degraded if label in self.rows[i].category.split("_")]
        self.focus_fraction = fraction if self.focused else 0.0
        source_of = [source for source, _ in self.scene_of]
        self.degraded_by_source = [[i for i in self.degraded if source_of[i] == source] for source in range(len(sources))]
        self.extra_degraded = self.degraded_by_source[1:]
        self.extra_fractions = [f if rows else 0.0 for f, rows in zip(extra_fractions, self.extra_degraded, strict=False)]
        self.pixels = PixelCache()
        self.unreadable: dict[str, str] = {}
        """Path -> why it could not be read, for every image skipped so far."""

    def __len__(self) -> int:
        return len(self.rows)

    def _draw(self, rng: np.random.Generator, batch_size: int) -> list[tuple[int, int]]:
        """(row, row whose vector guides it) for one batch. Uniform over rows, or with `clear_fraction` of every batch drawn
        from clear rows (a clean input must come back as it is), `misdirected_fraction` from clear rows guided by the vector
        of a degraded version of the same photo (a wrong prompt must not change a clean photo either), and each
        `extra_fractions` share from that extra source's degraded rows, and the `focus` share from degraded rows of every
        source whose category has the focus label, `overcalled_fraction` from degraded rows guided by the vector of a worse
        version of the same photo (a photo called worse than it is must lose only what it has); the rest from all degraded
        rows, or from all rows when no clear fraction is set (so clear rows keep their natural share). Every row but the
        misdirected and overcalled ones keeps its own vector."""
        shares = (self.clear_fraction, self.misdirected_fraction, self.focus_fraction, self.overcalled_fraction, *self.extra_fractions)
        if not any(shares):
            return [(int(i), int(i)) for i in rng.integers(0, len(self.rows), size=batch_size)]
        clear_count = int(round(self.clear_fraction * batch_size))
        chosen = [self.clear[i] for i in rng.integers(0, len(self.clear), size=clear_count)]
        guided = []
        for rows, fraction in ((self.misdirectable, self.misdirected_fraction), (self.overcallable, self.overcalled_fraction)):
            if count := min(int(round(fraction * batch_size)), batch_size - len(chosen) - len(guided)):
                guided += [(row, self._wrong_guide(row, rng)) for row in [rows[i] for i in rng.integers(0, len(rows), size=count)]]
        pools = [*zip(self.extra_degraded, self.extra_fractions, strict=False), (self.focused, self.focus_fraction)]
        for rows, fraction in pools:
            if count := min(int(round(fraction * batch_size)), batch_size - len(chosen) - len(guided)):
                chosen += [rows[i] for i in rng.integers(0, len(rows), size=count)]
        rest = self.degraded if self.clear_fraction else range(len(self.rows))
        chosen += [rest[i] for i in rng.integers(0, len(rest), size=batch_size - len(chosen) - len(guided))]
        return [(int(i), int(i)) for i in chosen] + guided

    def _wrong_guide(self, row: int, rng: np.random.Generator) -> int:
        """A clear row's guide is any degraded version of its photo (misdirected), a degraded row's a worse one (overcalled)."""
        return _one_of(self.scenes[self.scene_of[row]] if self.rows[row].category == CLEAR else self.worse_versions[row], rng)

    def _replacement(self, index: int, guide: int, rng: np.random.Generator) -> tuple[int, int]:
        """A row of the same kind as one whose image could not be read (misdirected, overcalled, clear, or degraded from
        the same split), so the batch keeps its clear, misdirected, overcalled and per-split shares."""
        clear = self.rows[index].category == CLEAR
        if index != guide:
            row = _one_of(self.misdirectable if clear else self.overcallable, rng)
            return row, self._wrong_guide(row, rng)
        row = _one_of(self.clear if clear else self.degraded_by_source[self.scene_of[index][0]], rng)
        return row, row

    def batch(self, rng: np.random.Generator, batch_size: int, crop: int) -> dict[str, torch.Tensor]:
        """A random batch of aligned crops, flipped and rotated alike; negatives repeat when a scene has few. A row with an
        unreadable image is recorded in `unreadable` and replaced by another of its kind drawn from the same generator, so
        a resumed run meets the same replacement instead of stopping at the same step again."""
        degraded, clean, negatives, embeddings, classes = [], [], [], [], []
        for index, guide in self._draw(rng, batch_size):
            for attempt in range(MAX_ATTEMPTS):
                try:
                    stack, chosen = self._read(index, rng)
                    break
                except ImageReadError as exc:
                    failure = exc
                    if attempt < MAX_ATTEMPTS // 2:
                        index, guide = self._replacement(index, guide, rng)
                    else:  # its kind may be a small pool, mostly broken: any row will do
                        index = guide = int(rng.integers(0, len(self.rows)))
            else:
                raise ImageReadError(f"{MAX_ATTEMPTS} rows in a row with an unreadable image; the last: {failure}") from None
            stack = _augment(_crop(stack, crop, rng), rng)
            degraded.append(stack[0])
            clean.append(stack[1])
            negatives.append(np.stack(stack[2:]) if chosen else np.zeros((0, *stack[0].shape), np.uint8))
            embeddings.append(self.inputs[guide].embedding)
            classes.append(self.inputs[guide].class_index)

        def to_tensor(arrays) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(np.stack(arrays))).float().div_(255.0)

        batch = {
            "degraded": to_tensor(degraded).permute(0, 3, 1, 2),
            "clean": to_tensor(clean).permute(0, 3, 1, 2),
            "embedding": torch.from_numpy(np.stack(embeddings)),
            "class_index": torch.tensor(classes, dtype=torch.long),
        }
        if self.negatives and all(len(n) for n in negatives):
            batch["negatives"] = to_tensor(negatives).permute(0, 1, 4, 2, 3)
        return batch

    def _read(self, index: int, rng: np.random.Generator) -> tuple[list[np.ndarray], list[PairRow]]:
        """Row `index`'s degraded and clean images, then `negatives` degraded versions of the same scene."""
        row = self.rows[index]
        others = [self.rows[i] for i in self.scenes[self.scene_of[index]] if self.rows[i].category != row.category]
        chosen = [others[i] for i in rng.integers(0, len(others), size=self.negatives)] if others and self.negatives else []
        images = []
        for path in [row.degraded, row.clean] + [r.degraded for r in chosen]:
            if str(path) in self.unreadable:  # tried once already
                raise ImageReadError(self.unreadable[str(path)])
            try:
                images.append(self.pixels.get(path))
            except ImageReadError as exc:
                self.unreadable[str(path)] = str(exc)
                raise
        return images, chosen


def _one_of(rows: Sequence[int], rng: np.random.Generator) -> int:
    return rows[int(rng.integers(0, len(rows)))]


def _crop(images: list[np.ndarray], size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """The same random size x size window of every image (reflect-padded when an image is smaller)."""
    height, width = images[0].shape[:2]
    if height < size or width < size:
        pad = ((0, max(0, size - height)), (0, max(0, size - width)), (0, 0))
        images = [np.pad(image, pad, mode="reflect" if min(height, width) > 1 else "edge") for image in images]
        height, width = images[0].shape[:2]
    top, left = int(rng.integers(0, height - size + 1)), int(rng.integers(0, width - size + 1))
    return [image[top : top + size, left : left + size] for image in images]


def _augment(images: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    flip, turns = bool(rng.integers(0, 2)), int(rng.integers(0, 4))
    return [np.rot90(image[:, ::-1] if flip else image, turns) for image in images]
