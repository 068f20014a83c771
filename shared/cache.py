"""The HDF5 embedding cache: the only thing stage one and stage two share besides pixels.

Layout: cache/<split>/<embedder>-<fingerprint id>/
    fingerprint.json                 the full Fingerprint (what produced these vectors)
    shard-KKKKK-of-NNNNN.h5          rows [K*rows_per_shard, (K+1)*rows_per_shard) of the split
    manifest.json                    the merged index, rewritten after every build

What the stages agree on (label names, keys, the Fingerprint) is shared/contract.py; the names
are re-exported here for the code that imports them from the cache.

Each shard holds, per row: `id` ("<image_id>/<category>"), `embedding` (float16, chunked),
`prompt`, `labels` (uint8 presence of LABEL_NAMES), `severity` (float16), `probabilities` (float16:
the prompter's calibrated presence probabilities, so `restore` can be conservative where it is
unsure; shards written before it existed read back their labels as certainties) and
`manifest_row` (the pair's JSON), and carries the fingerprint in its attributes. Shards are written to a temp file
and renamed, so a shard on disk is always whole; a killed build resumes at the first missing one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import h5py
import numpy as np

from shared.contract import LABELS as LABEL_NAMES
from shared.contract import PHOTO_CATEGORY, SCHEMA_VERSION, Failure, Fingerprint, cache_key, decision_confidence, photo_image_id
from shared.errors import CacheError
from shared.fileio import atomic_path, atomic_write_text

__all__ = ["LABEL_NAMES", "PHOTO_CATEGORY", "SCHEMA_VERSION", "CacheError", "Failure", "Fingerprint", "cache_key", "photo_image_id"]

FINGERPRINT_FILE = "fingerprint.json"
MANIFEST_FILE = "manifest.json"
_STRING = h5py.string_dtype("utf-8")


@dataclass(frozen=True)
class EmbeddingRecord:
    """One cached row."""

    id: str
    embedding: np.ndarray
    prompt: str
    labels: np.ndarray
    severity: np.ndarray
    manifest_row: dict = field(default_factory=dict)
    probabilities: np.ndarray | None = None
    """Calibrated presence probabilities of LABEL_NAMES (None: the labels, taken as certain)."""

    def presence_probabilities(self) -> np.ndarray:
        """Calibrated presence probability of each label; the labels themselves when none were stored."""
        return self.labels.astype(np.float32) if self.probabilities is None else self.probabilities

    def confidence(self) -> np.ndarray:
        """Probability that each label's decision (present or absent) is right."""
        return decision_confidence(self.labels, self.presence_probabilities())


def shard_name(index: int, count: int) -> str:
    return f"shard-{index:05d}-of-{count:05d}.h5"


def plan_shards(total_rows: int, rows_per_shard: int) -> list[range]:
    """Contiguous row ranges, one per shard (at least one shard, possibly empty)."""
    count = max(1, -(-total_rows // rows_per_shard))
    return [range(i * rows_per_shard, min(total_rows, (i + 1) * rows_per_shard)) for i in range(count)]


def parse_shard_spec(spec: str) -> tuple[int, int]:
    """'K/N' -> (K, N) with 0 <= K < N; anything else raises CacheError."""
    try:
        k, n = (int(x) for x in spec.split("/"))
    except ValueError:
        raise CacheError(f"--shard {spec!r}: expected K/N, e.g. 0/2 for the first of two workers") from None
    if not 0 <= k < n:
        raise CacheError(f"--shard {spec!r}: K must be in 0..N-1")
    return k, n


def write_shard(
    path: Path,
    fingerprint: Fingerprint,
    records: Sequence[EmbeddingRecord],
    planned_rows: int,
    failures: Sequence[dict] = (),
) -> Path:
    """Write one shard atomically: the fingerprint in its attributes, rows in order."""
    dim = fingerprint.dim
    embeddings = np.stack([r.embedding for r in records]).astype(np.float16) if records else np.zeros((0, dim), np.float16)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as handle:
        handle.attrs["fingerprint"] = json.dumps(asdict(fingerprint), sort_keys=True)
        handle.attrs["fingerprint_id"] = fingerprint.id
        handle.attrs["schema_version"] = SCHEMA_VERSION
        handle.attrs["planned_rows"] = planned_rows
        handle.attrs["failures"] = json.dumps(list(failures))
        handle.attrs["label_names"] = json.dumps(LABEL_NAMES)
        handle.create_dataset("id", data=[r.id for r in records], dtype=_STRING)
        handle.create_dataset("embedding", data=embeddings, chunks=(max(1, min(len(records), 256)), dim) if records else None)
        handle.create_dataset("prompt", data=[r.prompt for r in records], dtype=_STRING)
        handle.create_dataset("labels", data=np.array([r.labels for r in records], np.uint8).reshape(-1, len(LABEL_NAMES)))
        handle.create_dataset("severity", data=np.array([r.severity for r in records], np.float16).reshape(-1, len(LABEL_NAMES)))
        handle.create_dataset("manifest_row", data=[json.dumps(r.manifest_row, sort_keys=True) for r in records], dtype=_STRING)
        probabilities = [r.presence_probabilities() for r in records]
        handle.create_dataset("probabilities", data=np.array(probabilities, np.float16).reshape(-1, len(LABEL_NAMES)))
    return path


def _probabilities(handle: h5py.File, rows) -> np.ndarray | None:
    return handle["probabilities"][rows].astype(np.float32) if "probabilities" in handle else None


@dataclass(frozen=True)
class ShardStatus:
    """What verification found in one shard file."""

    path: Path
    state: str  # "ok", "corrupt", "foreign", "missing"
    rows: int = 0
    detail: str = ""


def check_shard(path: Path, fingerprint: Fingerprint) -> ShardStatus:
    """Open a shard and check its schema, fingerprint and values without trusting anything in it."""
    if not path.is_file():
        return ShardStatus(path, "missing", detail="not built yet")
    try:
        with h5py.File(path, "r") as handle:
            found = handle.attrs.get("fingerprint_id")
            if found != fingerprint.id:
                return ShardStatus(path, "foreign", detail=f"fingerprint {found} != {fingerprint.id}")
            rows = handle["id"].shape[0]
            optional = ["probabilities"] if "probabilities" in handle else []  # shards from before it was stored lack it
            for name in ("embedding", "prompt", "labels", "severity", "manifest_row", *optional):
                if handle[name].shape[0] != rows:
                    return ShardStatus(path, "corrupt", rows, f"{name} has {handle[name].shape[0]} rows, id has {rows}")
            embedding = handle["embedding"][()]
            if rows and (embedding.shape[1] != fingerprint.dim or not np.isfinite(embedding).all()):
                return ShardStatus(path, "corrupt", rows, "embedding has the wrong width or non-finite values")
            failures = len(json.loads(handle.attrs["failures"]))
            if rows + failures != int(handle.attrs["planned_rows"]):
                return ShardStatus(path, "corrupt", rows, "row count does not match its plan")
    except (OSError, KeyError, ValueError) as exc:
        return ShardStatus(path, "corrupt", detail=str(exc).splitlines()[0])
    return ShardStatus(path, "ok", rows)


def read_fingerprint(directory: Path) -> Fingerprint:
    path = directory / FINGERPRINT_FILE
    if not path.is_file():
        raise CacheError(f"{directory}: not an embedding cache (no {FINGERPRINT_FILE}); build it with restore-embed build")
    return Fingerprint.from_json(path.read_text(), str(path))


def write_fingerprint(directory: Path, fingerprint: Fingerprint) -> None:
    """Create the cache folder's fingerprint.json, or refuse a folder built by something else."""
    path = directory / FINGERPRINT_FILE
    if path.is_file():
        existing = read_fingerprint(directory)
        if existing != fingerprint:
            raise CacheError(f"{directory} holds another embedder's vectors ({'; '.join(existing.differences(fingerprint))}); never mixed")
        return
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, fingerprint.to_json())


def shard_count_of(directory: Path) -> int:
    """N of the shard-*-of-N files present; several different N means mixed builds."""
    counts = {int(p.stem.split("-of-")[1]) for p in directory.glob("shard-*-of-*.h5")}
    if len(counts) > 1:
        raise CacheError(f"{directory}: shards of different plans ({sorted(counts)} shards); delete the folder and rebuild")
    return counts.pop() if counts else 0


def verify_cache(directory: str | Path) -> list[ShardStatus]:
    """Status of every planned shard of a cache folder (missing ones included)."""
    directory = Path(directory)
    fingerprint = read_fingerprint(directory)
    count = shard_count_of(directory)
    return [check_shard(directory / shard_name(i, count), fingerprint) for i in range(count)]


def write_manifest(directory: Path) -> dict:
    """Merge the shards present into manifest.json (complete when every planned shard is ok)."""
    statuses = verify_cache(directory)
    failures = []
    for status in statuses:
        if status.state == "ok":
            with h5py.File(status.path, "r") as handle:
                failures.extend(json.loads(handle.attrs["failures"]))
    manifest = {
        "fingerprint_id": read_fingerprint(directory).id,
        "complete": bool(statuses) and all(s.state == "ok" for s in statuses),
        "rows": sum(s.rows for s in statuses if s.state == "ok"),
        "shards": [{"name": s.path.name, "state": s.state, "rows": s.rows} for s in statuses],
        "failures": failures,
    }
    atomic_write_text(directory / MANIFEST_FILE, json.dumps(manifest, indent=2) + "\n")
    return manifest


class EmbeddingCache:
    """Read side of a complete cache: O(1) lookup by id, in-order streaming.

    Opening checks the fingerprint against `expected` (when given) and refuses incomplete,
    corrupt or foreign shards, naming the file and the command that fixes it.
    """

    def __init__(self, directory: str | Path, expected: Fingerprint | None = None):
        self.directory = Path(directory)
        self.fingerprint = read_fingerprint(self.directory)
        if expected is not None and expected != self.fingerprint:
            raise CacheError(
                f"{self.directory} was built by another embedder or prompt template "
                f"({'; '.join(self.fingerprint.differences(expected))}); rebuild with restore-embed build"
            )
        bad = [s for s in verify_cache(self.directory) if s.state != "ok"]
        if bad:
            raise CacheError(f"{bad[0].path}: {bad[0].state} ({bad[0].detail}); run restore-embed build again to (re)build it")
        self.shards = sorted(self.directory.glob("shard-*-of-*.h5"))
        if not self.shards:
            raise CacheError(f"{self.directory}: no shards; run restore-embed build")
        self._index: dict[str, tuple[int, int]] = {}
        for shard_index, path in enumerate(self.shards):
            with h5py.File(path, "r") as handle:
                for row, key in enumerate(handle["id"].asstr()[()]):
                    self._index[key] = (shard_index, row)
        self._handles: dict[int, h5py.File] = {}

    def __len__(self) -> int:
        return len(self._index)

    def failures(self) -> list[Failure]:
        """The images stage one could not embed (from the merged manifest)."""
        manifest = json.loads((self.directory / MANIFEST_FILE).read_text())
        return [Failure.from_dict(entry) for entry in manifest["failures"]]

    def __contains__(self, key: str) -> bool:
        return key in self._index

    def ids(self) -> list[str]:
        return list(self._index)

    def _handle(self, shard_index: int) -> h5py.File:
        if shard_index not in self._handles:
            self._handles[shard_index] = h5py.File(self.shards[shard_index], "r")
        return self._handles[shard_index]

    def __getitem__(self, key: str) -> EmbeddingRecord:
        if key not in self._index:
            raise CacheError(f"{self.directory}: no embedding for {key!r}; rebuild the cache for this split")
        shard_index, row = self._index[key]
        handle = self._handle(shard_index)
        return EmbeddingRecord(
            key,
            handle["embedding"][row].astype(np.float32),
            handle["prompt"].asstr()[row],
            handle["labels"][row],
            handle["severity"][row].astype(np.float32),
            json.loads(handle["manifest_row"].asstr()[row]),
            _probabilities(handle, row),
        )

    def __iter__(self) -> Iterator[EmbeddingRecord]:
        """Every record in shard order, reading one shard at a time."""
        for path in self.shards:
            with h5py.File(path, "r") as handle:
                ids, prompts = handle["id"].asstr()[()], handle["prompt"].asstr()[()]
                embeddings, labels, severity = handle["embedding"][()], handle["labels"][()], handle["severity"][()]
                rows, probabilities = handle["manifest_row"].asstr()[()], _probabilities(handle, ())
                for i, key in enumerate(ids):
                    yield EmbeddingRecord(key, embeddings[i].astype(np.float32), prompts[i], labels[i], severity[i].astype(np.float32),
                                          json.loads(rows[i]), None if probabilities is None else probabilities[i])  # fmt: skip

    def close(self) -> None:
        for handle in self._handles.values():
            handle.close()
        self._handles.clear()
