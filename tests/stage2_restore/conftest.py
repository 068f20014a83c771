"""A tiny split with an embedding cache written through shared.cache (no stage-one code)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from shared.assessor import LABELS, AssessorConfig, AssessorNet, save_assessor
from shared.cache import EmbeddingRecord, Fingerprint, cache_key, shard_name, write_fingerprint, write_manifest, write_shard
from shared.degrade import components_of
from shared.pairs import SynthesisConfig, build_pairs
from shared.splits import resolve_split
from stage2_restore.losses import LossConfig
from stage2_restore.network import RestorerConfig
from stage2_restore.train import TrainConfig
from tests.conftest import write_photo

EMBEDDING_DIM = 16
FINGERPRINT = Fingerprint("local", "test-vectors", "test template", "test-prompter", EMBEDDING_DIM)


def write_cache(rows, directory, fingerprint=FINGERPRINT, seed=0):
    """One shard of seeded random vectors, with the true labels of each row."""
    rng = np.random.default_rng(seed)
    records = []
    for row in rows:
        labels = np.array([label in components_of(row.category) for label in LABELS], np.uint8)
        vector = rng.standard_normal(fingerprint.dim).astype(np.float32)
        records.append(EmbeddingRecord(cache_key(row.image_id, row.category), vector / np.linalg.norm(vector), row.category,
                                       labels, labels * 0.5, {"image_id": row.image_id}))  # fmt: skip
    write_fingerprint(directory, fingerprint)
    write_shard(directory / shard_name(0, 1), fingerprint, records, len(records))
    write_manifest(directory)
    return directory


@pytest.fixture
def tiny_split(tmp_path):
    """(split name, cache_dir, rows): 4 photos x 3 categories + clear, cached."""
    folder = tmp_path / "photos"
    for i in range(4):
        write_photo(folder / f"p{i}.png", 40, 48, seed=i)
    name = f"folder:{folder}"
    split = resolve_split(name)
    cache_dir = tmp_path / "cache"
    config = SynthesisConfig(seed=0, categories=("clear", "low", "haze_rain", "snow"), max_side=64)
    rows = build_pairs(split, cache_dir, config).rows
    write_cache(rows, cache_dir / split.slug / FINGERPRINT.directory_name)
    return name, cache_dir, rows


@pytest.fixture(scope="session")
def tiny_assessor(tmp_path_factory):
    torch.manual_seed(0)
    directory = tmp_path_factory.mktemp("assessor")
    save_assessor(AssessorNet(AssessorConfig(widths=(8, 16, 16), feature_dim=16, view_size=32)), directory)
    return directory


TINY_RESTORER = RestorerConfig(width=8, heads=2, descriptor_tokens=2)


def tiny_train_config(split, cache_dir, assessor, **changes) -> TrainConfig:
    config = TrainConfig(
        split=split, cache_dir=str(cache_dir), crop=32, batch_size=2, steps=4, warmup_steps=2, checkpoint_every=2,
        loss=LossConfig(assessor=str(assessor)), restorer=TINY_RESTORER,
    )  # fmt: skip
    return dataclasses.replace(config, **changes)
