import json

import h5py
import numpy as np
import pytest

from shared.cache import (
    CacheError,
    EmbeddingCache,
    EmbeddingRecord,
    Fingerprint,
    check_shard,
    parse_shard_spec,
    plan_shards,
    shard_name,
    verify_cache,
    write_fingerprint,
    write_manifest,
    write_shard,
)

FINGERPRINT = Fingerprint("local", "minilm@abc", "template v1", "prompter123", dim=8)


def records(start, count, dim=8):
    rng = np.random.default_rng(start)
    return [
        EmbeddingRecord(f"img{i:03d}/low", rng.standard_normal(dim).astype(np.float32), f"prompt {i}",
                        np.array([1, 0, 0, 0, 0, 0], np.uint8), np.full(6, 0.5, np.float32), {"image_id": f"img{i:03d}"})
        for i in range(start, start + count)
    ]  # fmt: skip


def make_cache(directory, counts=(4, 3)):
    write_fingerprint(directory, FINGERPRINT)
    start = 0
    for index, count in enumerate(counts):
        write_shard(directory / shard_name(index, len(counts)), FINGERPRINT, records(start, count), count)
        start += count
    write_manifest(directory)
    return directory


def test_round_trip_lookup_and_stream_in_order(tmp_path):
    cache = EmbeddingCache(make_cache(tmp_path / "c"), expected=FINGERPRINT)
    assert len(cache) == 7 and "img005/low" in cache
    record = cache["img005/low"]
    expected = records(4, 3)[1]
    np.testing.assert_allclose(record.embedding, expected.embedding, atol=2e-3)  # stored as float16
    assert record.prompt == "prompt 5" and record.manifest_row == {"image_id": "img005"}
    assert [r.id for r in cache] == [f"img{i:03d}/low" for i in range(7)]
    with pytest.raises(CacheError, match="no embedding for 'nope'"):
        cache["nope"]
    cache.close()


def test_schema_float16_chunked_and_fingerprint_in_attributes(tmp_path):
    directory = make_cache(tmp_path / "c")
    with h5py.File(directory / shard_name(0, 2)) as handle:
        assert handle["embedding"].dtype == np.float16 and handle["embedding"].chunks is not None
        assert json.loads(handle.attrs["fingerprint"])["embedder"] == "local"
        assert handle.attrs["fingerprint_id"] == FINGERPRINT.id
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["complete"] and manifest["rows"] == 7


def test_a_different_fingerprint_is_refused_with_what_differs(tmp_path):
    directory = make_cache(tmp_path / "c")
    other = Fingerprint("e5v", "royokong/e5-v@1", "template v1", "prompter123", dim=4096)
    with pytest.raises(CacheError, match="another embedder or prompt template.*embedder: local != e5v"):
        EmbeddingCache(directory, expected=other)
    with pytest.raises(CacheError, match="never mixed"):
        write_fingerprint(directory, other)


def test_corrupt_and_foreign_shards_are_detected_and_never_read(tmp_path):
    directory = make_cache(tmp_path / "c")
    shard = directory / shard_name(1, 2)
    shard.write_bytes(shard.read_bytes()[:200])
    assert [s.state for s in verify_cache(directory)] == ["ok", "corrupt"]
    with pytest.raises(CacheError, match="shard-00001-of-00002.h5: corrupt"):
        EmbeddingCache(directory)
    foreign = Fingerprint("local", "minilm@other", "template v1", "prompter123", dim=8)
    write_shard(shard, foreign, records(4, 3), 3)
    assert check_shard(shard, FINGERPRINT).state == "foreign"
    with pytest.raises(CacheError, match="foreign"):
        EmbeddingCache(directory)


def test_missing_shard_makes_the_cache_incomplete(tmp_path):
    directory = make_cache(tmp_path / "c")
    (directory / shard_name(0, 2)).unlink()
    assert not write_manifest(directory)["complete"]
    with pytest.raises(CacheError, match="missing"):
        EmbeddingCache(directory)


def test_not_a_cache(tmp_path):
    with pytest.raises(CacheError, match="not an embedding cache"):
        EmbeddingCache(tmp_path)


def test_plan_and_shard_spec():
    assert [len(r) for r in plan_shards(10, 4)] == [4, 4, 2]
    assert [len(r) for r in plan_shards(0, 4)] == [0]
    assert parse_shard_spec("1/3") == (1, 3)
    for bad in ("3/3", "x", "1-2", "-1/2"):
        with pytest.raises(CacheError, match="--shard"):
            parse_shard_spec(bad)


def test_fingerprint_id_is_stable_and_sensitive():
    assert FINGERPRINT.id == Fingerprint("local", "minilm@abc", "template v1", "prompter123", dim=8).id
    assert FINGERPRINT.id != Fingerprint("local", "minilm@abc", "template v2", "prompter123", dim=8).id
    assert FINGERPRINT.directory_name.startswith("local-")


def test_rows_carry_the_prompters_probabilities_and_older_shards_read_as_certain(tmp_path):
    directory = tmp_path / "c"
    write_fingerprint(directory, FINGERPRINT)
    rows = records(0, 2)
    unsure = EmbeddingRecord(rows[0].id, rows[0].embedding, rows[0].prompt, rows[0].labels, rows[0].severity, rows[0].manifest_row,
                             np.array([0.6, 0.1, 0.0, 0.0, 0.3, 0.0], np.float32))  # fmt: skip
    write_shard(directory / shard_name(0, 1), FINGERPRINT, [unsure, rows[1]], 2)
    write_manifest(directory)
    cache = EmbeddingCache(directory, expected=FINGERPRINT)
    np.testing.assert_allclose(cache["img000/low"].confidence(), [0.6, 0.9, 1.0, 1.0, 0.7, 1.0], atol=1e-3)
    assert [r.confidence().min() for r in cache] == pytest.approx([0.6, 1.0], abs=1e-3)
    cache.close()
    with h5py.File(directory / shard_name(0, 1), "a") as handle:  # a shard from before probabilities were stored
        del handle["probabilities"]
    old = EmbeddingCache(directory, expected=FINGERPRINT)
    assert old["img000/low"].probabilities is None and old["img000/low"].confidence().tolist() == [1.0] * 6
    old.close()
