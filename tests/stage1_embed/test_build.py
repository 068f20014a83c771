import numpy as np
import pytest
import torch
from PIL import Image

from shared.cache import CacheError, EmbeddingCache, cache_key, shard_name
from shared.contract import true_prompt_fingerprint
from shared.image_io import load_image, to_uint8
from stage1_embed.build import build_embeddings
from stage1_embed.embedders import create_embedder, fingerprint_of
from stage1_embed.embedders.e5v import E5VEmbedder, EmbedderUnavailable
from stage1_embed.embedders.local import LocalEmbedder
from stage1_embed.labels import prompt_of, targets_of


@pytest.fixture(scope="module")
def local_embedder_for():
    built = {}

    def make(prompter):
        if "e" not in built:
            built["e"] = LocalEmbedder(prompter)
        built["e"].prompter = prompter
        return built["e"]

    return make


def build(rows, prompter, embedder, directory, **options):
    return build_embeddings(
        rows, prompter, embedder, fingerprint_of(embedder, prompter), directory, rows_per_shard=4, batch_size=3, **options
    )


def test_local_vectors_are_unit_and_depend_on_image_and_prompt(prompter, local_embedder_for):
    embedder = local_embedder_for(prompter)
    a = np.random.default_rng(0).random((40, 40, 3)).astype(np.float32)
    b = np.random.default_rng(1).random((40, 40, 3)).astype(np.float32) * 0.2
    vectors = embedder.embed([a, a, b], ["a clear photo", "a photo with dense haze", "a clear photo"])
    assert vectors.shape == (3, 384 + 32) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(vectors[0], vectors[1]) and not np.allclose(vectors[0], vectors[2])
    np.testing.assert_allclose(vectors[0, 384:], vectors[1, 384:])  # same pixels, same image half


def test_round_trip_of_a_split(tmp_path, tiny_split, prompter, local_embedder_for):
    _, rows = tiny_split
    embedder = local_embedder_for(prompter)
    report = build(rows, prompter, embedder, tmp_path / "emb")
    assert report.complete and report.images == 10 and len(report.shards_built) == 3
    cache = EmbeddingCache(tmp_path / "emb", expected=fingerprint_of(embedder, prompter))
    record = cache[cache_key(rows[0].image_id, rows[0].category)]
    direct = embedder.embed([load_image(rows[0].degraded).rgb], [record.prompt])  # assessor run again: the build reused its pass
    np.testing.assert_allclose(record.embedding, direct[0], atol=2e-3)  # float16 storage
    again = build(rows, prompter, embedder, tmp_path / "emb")
    assert again.images == 0 and len(again.shards_reused) == 3


def test_true_prompts_are_worded_from_each_pairs_labels_in_a_cache_of_their_own(tmp_path, tiny_split, prompter, local_embedder_for):
    _, rows = tiny_split
    embedder = local_embedder_for(prompter)
    oracle = true_prompt_fingerprint(fingerprint_of(embedder, prompter))
    assert oracle.id != fingerprint_of(embedder, prompter).id and true_prompt_fingerprint(oracle) == oracle
    build_embeddings(rows, prompter, embedder, oracle, tmp_path / "true", rows_per_shard=4, batch_size=3, true_prompts=True)
    cache = EmbeddingCache(tmp_path / "true", expected=oracle)
    for row in rows:
        record = cache[row.key]
        presence, severity = targets_of(row.category, row.params)
        assert record.prompt == prompt_of(presence > 0, severity)
        np.testing.assert_array_equal(record.labels, presence.astype(np.uint8))
    with pytest.raises(CacheError):
        EmbeddingCache(tmp_path / "true", expected=fingerprint_of(embedder, prompter))


def test_resume_after_a_kill_mid_shard_equals_a_one_shot_build(tmp_path, tiny_split, prompter, local_embedder_for):
    _, rows = tiny_split
    embedder = local_embedder_for(prompter)

    class DiesDuringSecondShard:
        name, dim, weights_revision, prompt_template = embedder.name, embedder.dim, embedder.weights_revision, embedder.prompt_template
        calls = 0

        def embed(self, images, prompts, image_features=None):
            self.calls += 1
            if self.calls == 3:  # shard 0 takes 2 batches of 3 rows; this is shard 1's first
                raise KeyboardInterrupt
            return embedder.embed(images, prompts, image_features)

    with pytest.raises(KeyboardInterrupt):
        build(rows, prompter, DiesDuringSecondShard(), tmp_path / "killed")
    left = sorted(p.name for p in (tmp_path / "killed").iterdir())
    assert left == ["fingerprint.json", shard_name(0, 3)]  # no half-written shard, no temp file
    resumed = build(rows, prompter, embedder, tmp_path / "killed")
    assert resumed.shards_reused == [shard_name(0, 3)] and len(resumed.shards_built) == 2 and resumed.complete
    build(rows, prompter, embedder, tmp_path / "once")
    assert_same_cache(tmp_path / "killed", tmp_path / "once")


def assert_same_cache(a, b):
    first, second = list(EmbeddingCache(a)), list(EmbeddingCache(b))
    assert [r.id for r in first] == [r.id for r in second]
    for x, y in zip(first, second, strict=True):
        np.testing.assert_array_equal(x.embedding, y.embedding)
        assert x.prompt == y.prompt


def test_two_workers_merged_equal_one_worker(tmp_path, tiny_split, prompter, local_embedder_for):
    _, rows = tiny_split
    embedder = local_embedder_for(prompter)
    first = build(rows, prompter, embedder, tmp_path / "two", shard=(0, 2))
    assert not first.complete and first.shards_built == [shard_name(0, 3), shard_name(2, 3)]
    with pytest.raises(CacheError, match="missing"):
        EmbeddingCache(tmp_path / "two")
    second = build(rows, prompter, embedder, tmp_path / "two", shard=(1, 2))
    assert second.complete and second.shards_built == [shard_name(1, 3)]
    build(rows, prompter, embedder, tmp_path / "one")
    assert_same_cache(tmp_path / "two", tmp_path / "one")


def test_corrupt_image_is_skipped_and_listed_with_nothing_lost(tmp_path, tiny_split, prompter, local_embedder_for):
    _, rows = tiny_split
    rows[4].degraded.write_bytes(b"garbage")
    report = build(rows, prompter, local_embedder_for(prompter), tmp_path / "emb")
    assert report.complete and report.images == 9
    assert len(report.failures) == 1 and str(rows[4].degraded) in report.failures[0]["error"]
    cache = EmbeddingCache(tmp_path / "emb")
    assert len(cache) == 9 and cache_key(rows[4].image_id, rows[4].category) not in cache


def test_a_cache_of_another_prompter_is_never_mixed(tmp_path, tiny_split, prompter, local_embedder_for):
    _, rows = tiny_split
    embedder = local_embedder_for(prompter)
    build(rows, prompter, embedder, tmp_path / "emb")
    prompter.weights_hash = "another-prompter"
    with pytest.raises(CacheError, match="prompter_hash"):
        build(rows, prompter, embedder, tmp_path / "emb")


def test_a_different_shard_plan_is_refused(tmp_path, tiny_split, prompter, local_embedder_for):
    _, rows = tiny_split
    embedder = local_embedder_for(prompter)
    build(rows, prompter, embedder, tmp_path / "emb")
    with pytest.raises(CacheError, match="rows-per-shard"):
        build_embeddings(rows, prompter, embedder, fingerprint_of(embedder, prompter), tmp_path / "emb", rows_per_shard=5)


@pytest.mark.parametrize("quant", ["none", "4bit"])
def test_tiny_llava_next_through_the_real_e5v_path(tmp_path, tiny_split, prompter, tiny_llava, quant):
    _, rows = tiny_split
    embedder = E5VEmbedder(str(tiny_llava), quant=quant, device="cpu")
    assert embedder.dim == 64 and embedder.weights_revision.startswith("local:")
    assert embedder.model.config.image_token_id == embedder.processor.tokenizer.convert_tokens_to_ids("<image>")
    report = build(rows, prompter, embedder, tmp_path / "emb")
    assert report.complete and report.images == 10
    cache = EmbeddingCache(tmp_path / "emb", expected=fingerprint_of(embedder, prompter))
    vectors = np.stack([r.embedding for r in cache])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=3e-3)
    assert cache.fingerprint.embedder == "e5v" and "Summary above image in one word" in cache.fingerprint.prompt_template


def test_pooling_is_e5v_last_layer_last_token(tiny_llava):
    """The base model's last_hidden_state path equals E5-V's own `hidden_states[-1][:, -1]` on the full model."""
    embedder = E5VEmbedder(str(tiny_llava), quant="none", device="cpu")
    image = np.random.default_rng(2).random((50, 70, 3)).astype(np.float32)
    ours = embedder.embed([image, image[::-1]], ["a photo with haze", "a clear photo"])
    inputs = embedder.processor(text=[embedder.text_for(p) for p in ("a photo with haze", "a clear photo")],
                                images=[Image.fromarray(to_uint8(image)), Image.fromarray(to_uint8(image[::-1]))],
                                return_tensors="pt", padding=True)  # fmt: skip
    with torch.no_grad():
        reference = embedder.model(**inputs, output_hidden_states=True).hidden_states[-1][:, -1, :]
    np.testing.assert_allclose(ours, torch.nn.functional.normalize(reference, dim=-1).numpy(), atol=1e-5)


def test_four_bit_stays_close_to_full_precision(tiny_llava):
    image = [np.random.default_rng(0).random((60, 80, 3)).astype(np.float32)]
    full = E5VEmbedder(str(tiny_llava), quant="none", device="cpu").embed(image, ["a photo with haze"])
    nf4 = E5VEmbedder(str(tiny_llava), quant="4bit", device="cpu").embed(image, ["a photo with haze"])
    assert float(full[0] @ nf4[0]) > 0.95


def test_e5v_without_weights_says_where_to_get_them(tmp_path, prompter):
    with pytest.raises(EmbedderUnavailable, match="huggingface-cli download royokong/e5-v.*--model DIR"):
        create_embedder("e5v", prompter)
    with pytest.raises(EmbedderUnavailable, match="no config.json"):
        E5VEmbedder(str(tmp_path))


def test_auto_picks_local_without_a_gpu_and_says_why(prompter):
    embedder, reason = create_embedder("auto", prompter)
    assert embedder.name == "local" and "no GPU" in reason


def test_unknown_encoder_lists_the_choices(prompter):
    with pytest.raises(Exception, match="choose one of auto, e5v, local"):
        create_embedder("clip", prompter)
