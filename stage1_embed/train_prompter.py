"""Train, calibrate and score the pseudo-prompt generator on synthesized composites (read top to bottom).

Training pairs come from the data engine (shared.pairs: every training photo, several variants,
generator families drawn at random); each step samples images with clear ones weighted up and
takes fresh random crops. Two kinds of hard example keep "clear" honest: clear photos are
re-weighted among themselves every epoch by how degraded the current net believes them (the dim
rooms, snowfields and skies it gets wrong, mined from the photos themselves), and part of each
batch is close-ups (shared.degrade.close_up: smooth at pixel level, as a camera's 100 % view is),
clear or with mild low-ISO camera noise labelled "noise", JPEG-compressed alike. Validation sets
(in-distribution, and leave-one-family-out from `heldout:`) pick the best epoch by their mean
exact-match accuracy; the first one then fits per-label temperatures. `heads_only` retrains just
the two linear heads on a trained prompter's frozen features, which a restorer can read unchanged.
Never point it at evaluation photos: those only go through `score_prompter`.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from shared.assessor import AssessorConfig, AssessorNet, is_head_parameter, load_assessor, stack_views
from shared.contract import captures_in
from shared.degrade import CLEAR
from shared.degrade.blur import JpegCompression
from shared.degrade.close_up import close_up
from shared.degrade.noise import CameraNoise
from shared.errors import ConfigError, ImageReadError
from shared.fileio import atomic_path
from shared.image_io import load_image
from shared.pairs import PairRow
from stage1_embed.labels import CATEGORY_CLASSES, LABELS, PROMPTER_CATEGORIES, category_of, targets_of
from stage1_embed.prompter import PromptGenerator


@dataclass(frozen=True)
class PrompterTrainConfig:
    """Recipe of a prompter training run; saved beside the weights as train_config.json."""

    seed: int = 0
    epochs: int = 30
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    severity_weight: float = 1.0
    clear_weight: float = 3.0
    """How much likelier a clear image is drawn than a degraded one (a split keeps clear once per photo)."""
    hard_clear_weight: float = 4.0
    """Among clear photos, one the net calls degraded with probability p is drawn in proportion to 1 + hard_clear_weight * p
    (0: off); the clear share of the draws is unchanged."""
    close_up_fraction: float = 0.125
    """Share of each batch made of close-ups of clear photos, half of them with low-ISO camera noise (0: off)."""
    steps_per_epoch: int | None = None
    """Batches per epoch (None: one pass over the training images)."""
    init_from: str = ""
    """An assessor folder whose trunk (and heads where shapes match) start the run; "" = random."""
    heads_only: bool = False
    """Train only the presence and severity heads of `init_from`: its image feature, half of every local vector, stays
    bit for bit, so a restorer trained on its vectors reads this prompter's too (`restore-train export --prompter` checks)."""
    categories: tuple[str, ...] = PROMPTER_CATEGORIES
    net: AssessorConfig = AssessorConfig(crops=4)

    def __post_init__(self):
        if self.heads_only and not self.init_from:
            raise ConfigError("--heads-only trains new heads on an existing prompter's features; give --init-from ASSESSOR_DIR")


@dataclass
class LabelledImages:
    """Degraded images held in memory as uint8, with their presence and severity targets."""

    images: list[np.ndarray]
    presence: np.ndarray
    severity: np.ndarray
    categories: list[str]
    failures: list[str]


def load_labelled(rows: Sequence[PairRow], on_progress: Callable[[int, int], None] | None = None) -> LabelledImages:
    """Read every degraded image of `rows` once; unreadable files are listed and skipped."""
    images, presence, severity, categories, failures = [], [], [], [], []
    for index, row in enumerate(rows):
        try:
            image = load_image(row.degraded).rgb
        except ImageReadError as exc:
            failures.append(str(exc))
        else:
            images.append(np.round(image * 255).astype(np.uint8))
            p, s = targets_of(row.category, row.params)
            presence.append(p)
            severity.append(s)
            categories.append(row.category)
        if on_progress:
            on_progress(index + 1, len(rows))
    empty = np.zeros((0, len(LABELS)), np.float32)
    return LabelledImages(
        images, np.array(presence) if presence else empty, np.array(severity) if severity else empty, categories, failures
    )


@dataclass(frozen=True)
class PrompterScores:
    """Exact-match category accuracy on the 12 classes, per-label F1, severity MAE."""

    category_accuracy: float
    category_images: int
    f1: dict[str, float]
    precision: dict[str, float]
    recall: dict[str, float]
    severity_mae: float
    per_category_accuracy: dict[str, float]


@dataclass(frozen=True)
class Predictions:
    """What a generator says of every image of a LabelledImages: calibrated probabilities, decisions, severities."""

    probabilities: np.ndarray
    presence: np.ndarray
    severity: np.ndarray


def predict(generator: PromptGenerator, data: LabelledImages, batch_size: int = 32) -> Predictions:
    """One pass of `generator` over `data` (scores, confusion and calibration all read it)."""
    probabilities, presence, severity = [], [], []
    for start in range(0, len(data.images), batch_size):
        assessment = generator.assess([image.astype(np.float32) / 255.0 for image in data.images[start : start + batch_size]])
        probabilities.append(assessment.probabilities)
        presence.append(assessment.presence)
        severity.append(assessment.severity)
    if not presence:
        empty = np.zeros((0, len(LABELS)), np.float32)
        return Predictions(empty, empty.astype(bool), empty)
    return Predictions(np.concatenate(probabilities), np.concatenate(presence).astype(bool), np.concatenate(severity))


def score_prompter(generator: PromptGenerator, data: LabelledImages, predictions: Predictions | None = None) -> PrompterScores:
    """Score `generator` on labelled images: the 12-class exact match counts only those 12 classes."""
    predictions = predictions or predict(generator, data)
    predicted, predicted_severity = predictions.presence, predictions.severity
    truth = data.presence.astype(bool)
    f1, precision, recall = {}, {}, {}
    for index, label in enumerate(LABELS):
        tp = float(np.sum(predicted[:, index] & truth[:, index]))
        fp = float(np.sum(predicted[:, index] & ~truth[:, index]))
        fn = float(np.sum(~predicted[:, index] & truth[:, index]))
        precision[label] = tp / (tp + fp) if tp + fp else 0.0
        recall[label] = tp / (tp + fn) if tp + fn else 0.0
        f1[label] = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0
    in_classes = [i for i, c in enumerate(data.categories) if c in CATEGORY_CLASSES]
    correct = {i: category_of(predicted[i]) == data.categories[i] and not predicted[i, 4:].any() for i in in_classes}
    per_category = {
        c: float(np.mean([correct[i] for i in in_classes if data.categories[i] == c]))
        for c in CATEGORY_CLASSES if any(data.categories[i] == c for i in in_classes)
    }  # fmt: skip
    mask = truth
    mae = float(np.abs(predicted_severity - data.severity)[mask].mean()) if mask.any() else 0.0
    accuracy = float(np.mean(list(correct.values()))) if correct else 0.0
    return PrompterScores(accuracy, len(in_classes), f1, precision, recall, mae, per_category)


@dataclass(frozen=True)
class EpochLog:
    epoch: int
    loss: float
    val_accuracy: float
    """Mean exact-match accuracy over the validation sets (what selects the epoch)."""
    val_f1_mean: float
    seconds: float
    val_accuracies: dict = field(default_factory=dict)


def _initial_net(config: PrompterTrainConfig) -> AssessorNet:
    net = AssessorNet(config.net)
    if config.init_from:
        source = load_assessor(config.init_from).state_dict()
        own = net.state_dict()
        # The trunk and heads carry over; the projection, whose input grows with more crops, starts fresh.
        carried = {k for k, v in own.items() if k in source and source[k].shape == v.shape}
        fresh = [k for k in own if k not in carried and not is_head_parameter(k)]
        if config.heads_only and fresh:
            raise ConfigError(f"--heads-only: {config.init_from} has another shape ({fresh[0]}); use its --crops and net")
        net.load_state_dict({k: source[k] if k in carried else v for k, v in own.items()})
    if config.heads_only:
        for name, parameter in net.named_parameters():
            parameter.requires_grad_(is_head_parameter(name))
    return net


def _train_mode(net: AssessorNet, config: PrompterTrainConfig) -> None:
    # Frozen features stay in eval mode: batch-norm statistics would otherwise drift with every batch.
    net.train(not config.heads_only)


LOW_ISO_NOISE = CameraNoise(shot_noise=(0.0002, 0.002))
"""A good camera in ordinary light: noise a photographer sees at 100 % (PSNR about 30-40 dB), usually under JPEG."""


def _sampling_weights(data: LabelledImages, config: PrompterTrainConfig, clear_hardness: np.ndarray | None = None) -> np.ndarray:
    """Draw probabilities: clear images `clear_weight` times likelier; among them, the hard ones (net's P(degraded)) more."""
    is_clear = np.array(data.categories) == CLEAR
    weights = np.where(is_clear, config.clear_weight, 1.0)
    if clear_hardness is not None and is_clear.any():
        boost = 1.0 + config.hard_clear_weight * clear_hardness
        weights[is_clear] *= boost / boost.mean()  # among clear photos only: clear's share of the draws stays put
    return weights / weights.sum()


def _clear_hardness(net: AssessorNet, clear: LabelledImages) -> np.ndarray:
    """The net's probability that each clear image shows some degradation (the strongest label)."""
    net.eval()
    probabilities = torch.sigmoid(torch.from_numpy(presence_logits(PromptGenerator(net), clear))).numpy()
    return probabilities.max(axis=1) if len(probabilities) else np.zeros(0, np.float32)


def _batch(train: LabelledImages, weights: np.ndarray, clear_rows: np.ndarray, config: PrompterTrainConfig,
           rng: np.random.Generator) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:  # fmt: skip
    """Images (float, randomly mirrored) with their presence and severity targets; the tail are close-ups."""
    close_ups = int(round(config.batch_size * config.close_up_fraction)) if len(clear_rows) else 0
    drawn = rng.choice(len(train.images), size=config.batch_size - close_ups, p=weights)
    images = [train.images[i].astype(np.float32) / 255.0 for i in drawn]
    presence, severity = list(train.presence[drawn]), list(train.severity[drawn])
    for index in rng.choice(clear_rows, size=close_ups):
        image = close_up(train.images[index].astype(np.float32) / 255.0, rng)
        params = {}
        if rng.random() < 0.5:
            image, params["noise"] = LOW_ISO_NOISE(image, rng)
        elif rng.random() < LOW_ISO_NOISE.jpeg_probability:  # clean JPEGs too, so that JPEG's blocks do not mean "noise"
            image, _ = JpegCompression(quality=LOW_ISO_NOISE.jpeg_quality)(image, rng)
        p, s = targets_of("noise" if params else CLEAR, params)
        images.append(image)
        presence.append(p)
        severity.append(s)
    images = [image[:, ::-1] if rng.random() < 0.5 else image for image in images]
    return images, np.array(presence, np.float32), np.array(severity, np.float32)


def train_prompter(
    train: LabelledImages,
    vals: dict[str, LabelledImages],
    config: PrompterTrainConfig,
    on_epoch: Callable[[EpochLog], None] | None = None,
    on_step: Callable[[int, int], None] | None = None,
) -> tuple[PromptGenerator, list[EpochLog]]:
    """Train with AdamW + one-cycle; return the best epoch's generator (mean validation accuracy) and the log."""
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    net = _initial_net(config)
    trainable = [p for p in net.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = config.steps_per_epoch or max(1, len(train.images) // config.batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, config.lr, total_steps=config.epochs * steps_per_epoch, pct_start=0.1)
    clear_rows = np.flatnonzero(np.array(train.categories) == CLEAR)
    clear = LabelledImages([train.images[i] for i in clear_rows], train.presence[clear_rows], train.severity[clear_rows],
                           [CLEAR] * len(clear_rows), [])  # fmt: skip
    best_state, best_accuracy, history = None, -1.0, []
    for epoch in range(1, config.epochs + 1):
        start, losses = time.perf_counter(), []
        weights = _sampling_weights(train, config, _clear_hardness(net, clear) if config.hard_clear_weight else None)
        _train_mode(net, config)
        for step in range(steps_per_epoch):
            images, presence, target_severity = _batch(train, weights, clear_rows, config, rng)
            logits, severity, _ = net(*stack_views(images, config.net.view_size, config.net.crops, rng))
            presence = torch.from_numpy(presence)
            loss = F.binary_cross_entropy_with_logits(logits, presence)
            loss = loss + config.severity_weight * (
                F.l1_loss(severity, torch.from_numpy(target_severity), reduction="none") * presence
            ).sum() / presence.sum().clamp(min=1)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
            if on_step:
                on_step(step + 1, steps_per_epoch)
        net.eval()
        scores = {name: score_prompter(PromptGenerator(net), data) for name, data in vals.items()}
        accuracy = float(np.mean([s.category_accuracy for s in scores.values()]))
        f1 = float(np.mean([np.mean(list(s.f1.values())) for s in scores.values()]))
        log = EpochLog(epoch, float(np.mean(losses)), accuracy, f1, time.perf_counter() - start,
                       {name: s.category_accuracy for name, s in scores.items()})  # fmt: skip
        history.append(log)
        if on_epoch:
            on_epoch(log)
        if accuracy > best_accuracy:
            best_accuracy = accuracy
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    net.load_state_dict(best_state)
    return PromptGenerator(net.eval()), history


@torch.no_grad()
def presence_logits(generator: PromptGenerator, data: LabelledImages, batch_size: int = 32) -> np.ndarray:
    """Uncalibrated presence logits of every image (N x 6)."""
    net, config, logits = generator.net, generator.config, []
    for start in range(0, len(data.images), batch_size):
        batch = [image.astype(np.float32) / 255.0 for image in data.images[start : start + batch_size]]
        logits.append(net(*stack_views(batch, config.view_size, config.crops))[0].numpy())
    return np.concatenate(logits) if logits else np.zeros((0, len(LABELS)), np.float32)


def fit_temperatures(logits: np.ndarray, truth: np.ndarray) -> tuple[float, ...]:
    """Per-label temperature minimising the validation log-loss (a grid over 0.25..8, log-spaced); 1 where a label
    has only positives or only negatives there."""
    grid = np.exp(np.linspace(np.log(0.25), np.log(8.0), 97))
    temperatures = []
    for index in range(logits.shape[1]):
        z, y = logits[:, index].astype(np.float64), truth[:, index].astype(np.float64)
        if len(y) == 0 or y.min() == y.max():  # one class only: the log-loss falls forever as T shrinks
            temperatures.append(1.0)
            continue
        losses = [np.mean(np.logaddexp(0, z / t) - y * z / t) for t in grid]
        temperatures.append(float(grid[int(np.argmin(losses))]))
    return tuple(temperatures)


def calibrated(generator: PromptGenerator, temperatures: tuple[float, ...]) -> PromptGenerator:
    """The same generator whose probabilities use `temperatures` (saved in its config.json)."""
    net = copy.deepcopy(generator.net)
    net.config = dataclasses.replace(net.config, temperatures=tuple(float(t) for t in temperatures))
    return PromptGenerator(net, generator.weights_hash, generator.locator)


def calibrate(generator: PromptGenerator, val: LabelledImages) -> tuple[PromptGenerator, Reliability, Reliability]:
    """Fit per-label temperatures on `val`; return the calibrated generator and its reliability before and after."""
    logits = presence_logits(generator, val)
    before = reliability(1 / (1 + np.exp(-logits / np.asarray(generator.config.temperatures))), val.presence)
    generator = calibrated(generator, fit_temperatures(logits, val.presence))
    after = reliability(1 / (1 + np.exp(-logits / np.asarray(generator.config.temperatures))), val.presence)
    return generator, before, after


@dataclass(frozen=True)
class Reliability:
    """Expected calibration error and the reliability curve of per-label presence probabilities."""

    ece: float
    bin_confidence: list[float]
    bin_frequency: list[float]
    bin_count: list[int]


def reliability(probabilities: np.ndarray, truth: np.ndarray, bins: int = 10) -> Reliability:
    """ECE over every (image, label) probability: |mean predicted - observed frequency| weighted by bin size."""
    p, y = probabilities.ravel(), truth.ravel().astype(np.float64)
    edges = np.linspace(0, 1, bins + 1)
    index = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    confidence, frequency, count, ece = [], [], [], 0.0
    for b in range(bins):
        mask = index == b
        count.append(int(mask.sum()))
        confidence.append(float(p[mask].mean()) if mask.any() else float((edges[b] + edges[b + 1]) / 2))
        frequency.append(float(y[mask].mean()) if mask.any() else float("nan"))
        if mask.any():
            ece += mask.mean() * abs(confidence[-1] - frequency[-1])
    return Reliability(float(ece), confidence, frequency, count)


def write_reliability_png(path, curves: dict[str, Reliability]) -> None:
    """Reliability diagram: observed frequency vs predicted probability, one line per curve, ECE in the legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(4.5, 4.5))
    axis.plot([0, 1], [0, 1], ":", color="grey", label="perfect")
    for name, curve in curves.items():
        keep = [i for i, n in enumerate(curve.bin_count) if n]
        points = [curve.bin_confidence[i] for i in keep], [curve.bin_frequency[i] for i in keep]
        axis.plot(*points, "o-", label=f"{name} (ECE {curve.ece:.3f})")
    axis.set_xlabel("predicted presence probability")
    axis.set_ylabel("observed frequency")
    axis.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=100, format="png")
    plt.close(figure)


def confusion(predictions: Predictions, data: LabelledImages) -> tuple[list[str], np.ndarray]:
    """(classes, counts[true, predicted]) over the 12 classes; predictions outside them count as "other"."""
    classes = [*CATEGORY_CLASSES, "other"]
    counts = np.zeros((len(CATEGORY_CLASSES), len(classes)), np.int64)
    for truth, presence in zip(data.categories, predictions.presence, strict=True):
        if truth not in CATEGORY_CLASSES:
            continue
        predicted = "other" if captures_in(presence) else category_of(presence)
        counts[CATEGORY_CLASSES.index(truth), classes.index(predicted if predicted in classes else "other")] += 1
    return classes, counts


def write_confusion_png(path, classes: list[str], counts: np.ndarray, title: str) -> None:
    """Row-normalised confusion matrix (true class down, predicted across) with counts in the cells."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    figure, axis = plt.subplots(figsize=(9, 7))
    axis.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    axis.set_xticks(range(len(classes)), classes, rotation=60, ha="right", fontsize=8)
    axis.set_yticks(range(counts.shape[0]), classes[: counts.shape[0]], fontsize=8)
    for (row, column), value in np.ndenumerate(counts):
        if value:
            axis.text(column, row, str(value), ha="center", va="center", fontsize=6, color="white" if rates[row, column] > 0.5 else "black")
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title(title, fontsize=9)
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=100, format="png")
    plt.close(figure)


def write_history(path, history: Sequence[EpochLog]) -> None:
    """Training log as CSV, plus a PNG of loss and validation accuracy beside it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(history[0].val_accuracies) if history else []
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["epoch", "loss", "val_accuracy", "val_f1_mean", "seconds", *[f"val_accuracy_{n}" for n in names]])
        for log in history:
            writer.writerow([log.epoch, f"{log.loss:.5f}", f"{log.val_accuracy:.4f}", f"{log.val_f1_mean:.4f}", f"{log.seconds:.1f}",
                             *[f"{log.val_accuracies[n]:.4f}" for n in names]])  # fmt: skip
    figure, left = plt.subplots(figsize=(6, 3.5))
    epochs = [h.epoch for h in history]
    left.plot(epochs, [h.loss for h in history], "o-", color="tab:blue", label="train loss")
    left.set_xlabel("epoch")
    left.set_ylabel("train loss", color="tab:blue")
    right = left.twinx()
    right.plot(epochs, [h.val_accuracy for h in history], "s-", color="tab:green", label="val accuracy (mean)")
    for name in names:
        right.plot(epochs, [h.val_accuracies[name] for h in history], ".--", label=name)
    right.legend(loc="lower right", fontsize=7)
    right.set_ylabel("val exact-match accuracy", color="tab:green")
    figure.tight_layout()
    with atomic_path(str(path).removesuffix(".csv") + ".png") as tmp:
        figure.savefig(tmp, dpi=100, format="png")
    plt.close(figure)
