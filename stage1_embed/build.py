"""Embed a split's degraded images into HDF5 shards: assess -> prompt -> embed -> write.

Rows follow the pairs manifest order and are cut into fixed shards, so `--shard K/N` workers
(processes or machines) build disjoint shards of one identical plan, and any of them merges
the manifest. A shard already on disk and valid is skipped: a killed build loses at most the
shard in progress. Unreadable images are recorded in their shard and skipped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from shared.cache import (
    EmbeddingRecord,
    check_shard,
    plan_shards,
    shard_count_of,
    shard_name,
    write_fingerprint,
    write_manifest,
    write_shard,
)
from shared.contract import PHOTO_CATEGORY, Failure, Fingerprint, photo_image_id
from shared.errors import CacheError, ConfigError, ImageReadError
from shared.image_io import load_image
from shared.pairs import PairRow
from stage1_embed.labels import parse_steering, prompt_of, targets_of
from stage1_embed.prompter import PromptGenerator


@dataclass(frozen=True)
class BuildReport:
    """What one build process did."""

    directory: Path
    images: int
    shards_built: list[str] = field(default_factory=list)
    shards_reused: list[str] = field(default_factory=list)
    shards_replaced: list[str] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    complete: bool = False
    shard_bytes: dict[str, int] = field(default_factory=dict)

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else 0.0


def embed_rows(
    rows: Sequence[PairRow],
    prompter: PromptGenerator,
    embedder,
    batch_size: int,
    steer: str | None = None,
    true_prompts: bool = False,
) -> tuple[list[EmbeddingRecord], list[dict]]:
    """Records of `rows` in order; unreadable images become failure entries.

    `steer` (e.g. "haze and heavy rain") replaces the detected labels: the prompt is worded by
    the same template from the user's labels, keeping the assessor's severity where it agrees.
    `true_prompts` words each prompt from the pair's own category, with the severities its
    synthesizer recorded (the middle word for ready pairs such as CDD-11, which record none): the
    oracle of shared.contract.true_prompt_fingerprint. The image features stay the assessor's.
    """
    records, failures = [], []
    for start in range(0, len(rows), batch_size):
        batch, images = [], []
        for row in rows[start : start + batch_size]:
            try:
                images.append(load_image(row.degraded).rgb)
                batch.append(row)
            except ImageReadError as exc:
                failures.append(Failure(row.key, str(exc)).to_dict())
        if not batch:
            continue
        assessment = prompter.assess(images)
        presence, severity, probabilities = assessment.presence, assessment.severity, assessment.probabilities
        if steer is not None:
            steered = [parse_steering(steer, s) for s in severity]
            presence, severity = np.stack([p for p, _ in steered]), np.stack([s for _, s in steered])
            probabilities = presence.astype(np.float32)  # the user's words are taken as certain
        if true_prompts:
            truth = [_true_labels(row) for row in batch]
            presence, severity = np.stack([p > 0 for p, _ in truth]), np.stack([s for _, s in truth])
            probabilities = presence.astype(np.float32)
        prompts = [prompt_of(p, s) for p, s in zip(presence, severity, strict=True)]
        embeddings = embedder.embed(images, prompts, assessment.features)  # the assessor ran once, above
        for i, row in enumerate(batch):
            manifest_row = {**asdict(row), "degraded": str(row.degraded), "clean": str(row.clean) if row.clean else None}
            records.append(EmbeddingRecord(row.key, embeddings[i], prompts[i],
                                           presence[i].astype(np.uint8), severity[i], manifest_row, probabilities[i]))  # fmt: skip
    return records, failures


def _true_labels(row: PairRow) -> tuple[np.ndarray, np.ndarray]:
    try:
        return targets_of(row.category, row.params)
    except ConfigError:
        raise ConfigError(
            f"--true-prompts: {row.degraded} is in category {row.category!r}, which names no degradations; "
            "true labels are known only for synthesized splits and CDD-11-style category folders"
        ) from None


def build_embeddings(
    rows: Sequence[PairRow],
    prompter: PromptGenerator,
    embedder,
    fingerprint: Fingerprint,
    directory: str | Path,
    shard: tuple[int, int] = (0, 1),
    batch_size: int = 16,
    rows_per_shard: int = 1024,
    on_progress: Callable[[int, int], None] | None = None,
    steer: str | None = None,
    true_prompts: bool = False,
) -> BuildReport:
    """Build this worker's shards (index % N == K) of the plan for `rows` under `directory`."""
    directory = Path(directory)
    write_fingerprint(directory, fingerprint)
    plan = plan_shards(len(rows), rows_per_shard)
    existing = shard_count_of(directory)
    if existing and existing != len(plan):
        raise CacheError(
            f"{directory} was planned as {existing} shards, this build plans {len(plan)}; "
            "use the same --rows-per-shard as before, or delete the folder"
        )
    k, n = shard
    mine = [i for i in range(len(plan)) if i % n == k]
    total = sum(len(plan[i]) for i in mine)
    built, reused, replaced, failures, shard_bytes = [], [], [], [], {}
    done, images, start = 0, 0, time.perf_counter()
    for index in mine:
        path = directory / shard_name(index, len(plan))
        status = check_shard(path, fingerprint)
        if status.state == "ok":
            reused.append(path.name)
        else:
            if status.state in ("corrupt", "foreign"):
                replaced.append(f"{path.name} ({status.state}: {status.detail})")
            shard_rows = [rows[i] for i in plan[index]]
            records, shard_failures = embed_rows(shard_rows, prompter, embedder, batch_size, steer, true_prompts)
            write_shard(path, fingerprint, records, len(shard_rows), shard_failures)
            built.append(path.name)
            failures.extend(shard_failures)
            images += len(records)
        shard_bytes[path.name] = path.stat().st_size
        done += len(plan[index])
        if on_progress:
            on_progress(done, total)
    complete = write_manifest(directory)["complete"]
    return BuildReport(directory, images, built, reused, replaced, failures, time.perf_counter() - start, complete, shard_bytes)


def worker_from_environment(environ: Mapping[str, str]) -> tuple[int, int]:
    """(K, N) of this process when a launcher started several: torchrun's RANK/WORLD_SIZE, or a Slurm
    array's SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT (ids counted from SLURM_ARRAY_TASK_MIN); else (0, 1)."""
    if "WORLD_SIZE" in environ:
        return int(environ.get("RANK", "0")), int(environ["WORLD_SIZE"])
    if "SLURM_ARRAY_TASK_COUNT" in environ:
        task = int(environ["SLURM_ARRAY_TASK_ID"]) - int(environ.get("SLURM_ARRAY_TASK_MIN", "0"))
        return task, int(environ["SLURM_ARRAY_TASK_COUNT"])
    return 0, 1


def device_from_environment(environ: Mapping[str, str]) -> str | None:
    """cuda:LOCAL_RANK under torchrun on a GPU node, so each process of the node takes its own GPU; else None (the default)."""
    import torch

    return f"cuda:{int(environ['LOCAL_RANK'])}" if "LOCAL_RANK" in environ and torch.cuda.is_available() else None


def photo_rows(paths: Sequence[str | Path]) -> list[PairRow]:
    """Rows for a user's degraded photos (no ground truth); ids are their positions in `paths`."""
    return [PairRow(photo_image_id(i), PHOTO_CATEGORY, Path(path).resolve(), None, str(path)) for i, path in enumerate(paths)]
