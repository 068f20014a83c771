import copy
import dataclasses

import numpy as np
import pytest
import torch

from shared.assessor import AssessorConfig, AssessorNet, crop_origins, make_views, stack_views
from shared.pairs import SynthesisConfig, build_pairs
from shared.splits import resolve_split
from stage1_embed.labels import LABELS
from stage1_embed.prompter import PromptGenerator
from stage1_embed.train_prompter import (
    LabelledImages,
    PrompterTrainConfig,
    _batch,
    _sampling_weights,
    fit_temperatures,
    load_labelled,
    reliability,
    score_prompter,
    train_prompter,
)
from tests.conftest import write_photo

TINY = AssessorConfig(widths=(8, 16), feature_dim=16, view_size=32)


def test_parameter_budget():
    assert sum(p.numel() for p in AssessorNet().parameters()) < 3_000_000


@pytest.mark.parametrize("shape", [(1, 1), (17, 33), (300, 200)])
@pytest.mark.parametrize("crops", [1, 4])
def test_views_of_any_size(shape, crops):
    global_view, local_views = make_views(np.random.default_rng(0).random(shape + (3,)), 128, crops=crops)
    assert global_view.shape == (3, 128, 128) and local_views.shape == (crops, 3, 128, 128)


def test_one_crop_is_the_central_native_resolution_crop():
    image = np.random.default_rng(0).random((200, 300, 3)).astype(np.float32)
    _, local_views = make_views(image, 64)
    np.testing.assert_array_equal(local_views[0].permute(1, 2, 0).numpy(), image[68:132, 118:182])


def test_several_crops_spread_over_the_frame_see_what_the_central_one_misses():
    """A single bright streak in the top-left quarter is inside one of four crops, not the central one."""
    image = np.zeros((240, 360, 3), np.float32)
    image[40:80, 90:92] = 1.0
    _, one = make_views(image, 64, crops=1)
    _, four = make_views(image, 64, crops=4)
    assert one.max() == 0 and four.max() == 1
    origins = crop_origins(240, 360, 64, 4)
    assert len(set(origins)) == 4 and all(0 <= top <= 240 - 64 and 0 <= left <= 360 - 64 for top, left in origins)


def test_max_pooling_over_crops_keeps_evidence_from_one_crop():
    torch.manual_seed(0)
    net = AssessorNet(AssessorConfig(widths=(8, 16), feature_dim=16, view_size=32, crops=4)).eval()
    global_view, crops = torch.zeros(1, 3, 32, 32), torch.zeros(1, 4, 3, 32, 32)
    streak = crops.clone()
    streak[0, 3, :, :, 10] = 1.0  # one streak in the last crop only
    with torch.no_grad():
        assert not torch.allclose(net.features(global_view, crops), net.features(global_view, streak))


def test_temperatures_calibrate_an_overconfident_label():
    rng = np.random.default_rng(0)
    truth = (rng.random((4000, 6)) < 0.5).astype(np.float32)
    # Logits 4x too large: right 80 % of the time but near-certain every time.
    logits = np.where(rng.random((4000, 6)) < 0.8, truth * 2 - 1, 1 - truth * 2) * 4.0 * rng.uniform(0.5, 1.5, (4000, 6))
    temperatures = fit_temperatures(logits, truth)
    before = reliability(1 / (1 + np.exp(-logits)), truth).ece
    after = reliability(1 / (1 + np.exp(-logits / np.asarray(temperatures))), truth).ece
    assert all(t > 2 for t in temperatures) and after < before / 3


def test_save_and_reload_gives_the_same_assessment(tmp_path):
    torch.manual_seed(0)
    generator = PromptGenerator(AssessorNet(TINY))
    generator.save_pretrained(tmp_path / "p")
    reloaded = PromptGenerator.from_pretrained(tmp_path / "p")
    images = [np.random.default_rng(i).random((40, 50, 3)).astype(np.float32) for i in range(3)]
    a, b = generator.assess(images), reloaded.assess(images)
    np.testing.assert_allclose(a.probabilities, b.probabilities, atol=5e-3)  # weights are stored as fp16
    assert len(b.prompts) == 3 and a.features.shape == (3, 16)
    np.testing.assert_array_equal(b.probabilities, PromptGenerator.from_pretrained(tmp_path / "p").assess(images).probabilities)
    assert reloaded.weights_hash == generator.weights_hash != "untrained"


def test_missing_weights_say_how_to_get_them(tmp_path):
    with pytest.raises(Exception, match="restore-embed train-prompter"):
        PromptGenerator.from_pretrained(tmp_path)


def test_scores_are_hand_computed():
    images = [np.zeros((8, 8, 3), np.uint8)] * 4
    presence = np.array([[1, 1, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0], [1, 1, 0, 0, 1, 0]], np.float32)
    data = LabelledImages(images, presence, presence * 0.5, ["low_haze", "low", "clear", "low_haze_noise"], [])
    generator = PromptGenerator(AssessorNet(TINY))
    with torch.no_grad():  # a generator that says "low and haze" of every image
        for parameter in generator.net.presence.parameters():
            parameter.zero_()
        generator.net.presence.bias.copy_(torch.tensor([10.0, 10.0, -10, -10, -10, -10]))
    scores = score_prompter(generator, data)
    assert scores.category_images == 3  # low_haze_noise is outside the 12 classes
    assert scores.category_accuracy == pytest.approx(1 / 3)  # only low_haze is right
    assert scores.f1["low"] == pytest.approx(2 * 3 / (2 * 3 + 1))  # tp 3, fp 1
    assert scores.f1["haze"] == pytest.approx(2 * 2 / (2 * 2 + 2))  # tp 2, fp 2
    assert scores.recall["noise"] == 0.0


def test_training_learns_to_tell_dark_from_clear(tmp_path):
    folder = tmp_path / "photos"
    for i in range(6):
        write_photo(folder / f"p{i}.png", 48, 48, seed=i)
    config = SynthesisConfig(seed=0, categories=("clear", "low"), max_side=48)
    rows = build_pairs(resolve_split(f"folder:{folder}"), tmp_path / "cache", config).rows
    data = load_labelled(rows)
    assert len(data.images) == 12 and data.presence.shape == (12, len(LABELS))
    # Enough steps for BN statistics; close-ups (a third kind of image in a 12-image toy) have their own test.
    train_config = PrompterTrainConfig(epochs=40, batch_size=12, lr=1e-2, net=TINY, clear_weight=1.0, close_up_fraction=0.0)
    generator, history = train_prompter(data, {"val": data}, train_config)
    assert len(history) == 40 and history[-1].loss < history[0].loss
    assert score_prompter(generator, data).f1["low"] >= 0.9


def _labelled(categories):
    presence = np.array([[0.0] * 6 if c == "clear" else [1.0] + [0.0] * 5 for c in categories], np.float32)
    images = [np.full((40, 40, 3), i * 20, np.uint8) for i in range(len(categories))]
    return LabelledImages(images, presence, presence * 0.5, list(categories), [])


def test_clear_photos_the_net_calls_degraded_are_drawn_likelier():
    data = _labelled(["clear", "clear", "low", "low"])
    config = PrompterTrainConfig(clear_weight=3.0, hard_clear_weight=4.0)
    weights = _sampling_weights(data, config, np.array([0.0, 0.5]))
    # boosts 1 and 3 (1 + 4 x 0.5), normalised among clear photos: 3 x 0.5 and 3 x 1.5, degraded 1 each, out of 8.
    np.testing.assert_allclose(weights, np.array([1.5, 4.5, 1, 1]) / 8)
    np.testing.assert_allclose(_sampling_weights(data, config), np.array([3, 3, 1, 1]) / 8)


def test_the_batch_tail_is_close_ups_of_clear_photos_clear_or_noisy():
    data = _labelled(["clear", "low", "low", "low"])
    config = PrompterTrainConfig(batch_size=8, close_up_fraction=0.5)
    noisy = 0
    for seed in range(6):
        images, presence, severity = _batch(data, np.array([0.0, 1 / 3, 1 / 3, 1 / 3]), np.array([0]), config, np.random.default_rng(seed))
        assert len(images) == 8 and presence.shape == severity.shape == (8, 6)
        np.testing.assert_array_equal(presence[:4, 0], 1.0)  # drawn by weight: never the clear photo
        tail = presence[4:]
        assert set(tail[:, LABELS.index("noise")]) <= {0.0, 1.0} and tail[:, [0, 1, 2, 3, 5]].sum() == 0
        noisy += int(tail[:, LABELS.index("noise")].sum())
        assert (severity[4:, LABELS.index("noise")] > 0).sum() == tail[:, LABELS.index("noise")].sum()
    assert 0 < noisy < 24  # about half


def test_a_label_with_one_class_only_keeps_temperature_one():
    logits = np.random.default_rng(0).normal(0, 3, (50, 6))
    truth = np.zeros((50, 6), np.float32)
    truth[:25, 0] = 1
    temperatures = fit_temperatures(logits, truth)
    assert temperatures[1:] == (1.0,) * 5 and temperatures[0] != 1.0
    assert fit_temperatures(np.zeros((0, 6)), np.zeros((0, 6))) == (1.0,) * 6


def test_one_crop_is_centred_on_tall_images_too():
    assert crop_origins(1000, 300, 128, 1) == [(436, 86)]


def test_the_hash_names_calibration_but_keeps_the_first_releases(tmp_path):
    from shared.assessor import save_assessor, weights_hash

    torch.manual_seed(0)
    net = AssessorNet(TINY)
    plain = save_assessor(net, tmp_path / "a")
    raw = __import__("hashlib").sha256((tmp_path / "a" / "model.safetensors").read_bytes()).hexdigest()[:16]
    assert plain == raw  # default decisions: the weights alone, as before
    net.config = dataclasses.replace(TINY, temperatures=(2.0,) + (1.0,) * 5)
    assert save_assessor(net, tmp_path / "b") != plain and weights_hash(tmp_path / "b") != plain


def test_heads_only_keeps_the_feature_bit_for_bit_and_learns_the_heads(tmp_path):
    from shared.assessor import load_assessor, same_features, save_assessor
    from shared.errors import ConfigError

    folder = tmp_path / "photos"
    for i in range(6):
        write_photo(folder / f"p{i}.png", 48, 48, seed=i)
    synthesis = SynthesisConfig(seed=0, categories=("clear", "low"), max_side=48)
    data = load_labelled(build_pairs(resolve_split(f"folder:{folder}"), tmp_path / "cache", synthesis).rows)
    torch.manual_seed(0)
    save_assessor(AssessorNet(TINY), tmp_path / "start")
    start = load_assessor(tmp_path / "start")
    config = PrompterTrainConfig(
        epochs=3, batch_size=12, lr=1e-2, net=TINY, clear_weight=1.0, init_from=str(tmp_path / "start"), heads_only=True
    )
    generator, history = train_prompter(data, {"val": data}, config)
    assert same_features(start, generator.net)  # batch-norm statistics included
    assert not torch.equal(start.presence.weight, generator.net.presence.weight)
    views = stack_views([image.astype(np.float32) / 255 for image in data.images[:3]], TINY.view_size, TINY.crops)
    with torch.no_grad():
        assert torch.equal(start.features(*views), generator.net.features(*views))
    with pytest.raises(ConfigError, match="--init-from"):
        PrompterTrainConfig(heads_only=True)
    wider = AssessorNet(dataclasses.replace(TINY, widths=(8, 24)))
    assert not same_features(start, wider)
    moved = copy.deepcopy(start)
    with torch.no_grad():
        moved.project[0].bias.add_(1e-3)
    assert not same_features(start, moved)
