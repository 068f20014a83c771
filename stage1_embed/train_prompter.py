"""Train and score the pseudo-prompt generator on synthesized composites (read top to bottom).

Training and validation pairs come from shared.pairs (folder splits of clean photos degraded
with PROMPTER_CATEGORIES); the best epoch by validation exact-match accuracy is kept. Never
point it at evaluation photos: those only go through `score_prompter`.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from shared.assessor import AssessorConfig, AssessorNet, make_views
from shared.errors import ImageReadError
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
    categories: tuple[str, ...] = PROMPTER_CATEGORIES
    net: AssessorConfig = AssessorConfig()


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


def score_prompter(generator: PromptGenerator, data: LabelledImages, batch_size: int = 32) -> PrompterScores:
    """Score `generator` on labelled images: the 12-class exact match counts only those 12 classes."""
    presence, severity = [], []
    for start in range(0, len(data.images), batch_size):
        batch = [image.astype(np.float32) / 255.0 for image in data.images[start : start + batch_size]]
        assessment = generator.assess(batch)
        presence.append(assessment.presence)
        severity.append(assessment.severity)
    predicted = np.concatenate(presence).astype(bool)
    predicted_severity = np.concatenate(severity)
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
    val_f1_mean: float
    seconds: float


def train_prompter(
    train: LabelledImages,
    val: LabelledImages,
    config: PrompterTrainConfig,
    on_epoch: Callable[[EpochLog], None] | None = None,
    on_step: Callable[[int, int], None] | None = None,
) -> tuple[PromptGenerator, list[EpochLog]]:
    """Train with AdamW + cosine decay; return the best epoch's generator (by validation accuracy) and the log."""
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    net = AssessorNet(config.net)
    optimizer = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = max(1, len(train.images) // config.batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, config.lr, total_steps=config.epochs * steps_per_epoch, pct_start=0.1)
    best_state, best_accuracy, history = None, -1.0, []
    for epoch in range(1, config.epochs + 1):
        start, losses = time.perf_counter(), []
        net.train()
        order = rng.permutation(len(train.images))
        for step in range(steps_per_epoch):
            batch = order[step * config.batch_size : (step + 1) * config.batch_size]
            views = []
            for i in batch:
                image = train.images[i].astype(np.float32) / 255.0
                if rng.random() < 0.5:
                    image = image[:, ::-1]
                views.append(make_views(image, config.net.view_size, rng))
            logits, severity, _ = net(torch.stack([v[0] for v in views]), torch.stack([v[1] for v in views]))
            presence = torch.from_numpy(train.presence[batch])
            loss = F.binary_cross_entropy_with_logits(logits, presence)
            loss = loss + config.severity_weight * (
                F.l1_loss(severity, torch.from_numpy(train.severity[batch]), reduction="none") * presence
            ).sum() / presence.sum().clamp(min=1)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
            if on_step:
                on_step(step + 1, steps_per_epoch)
        net.eval()
        scores = score_prompter(PromptGenerator(net), val)
        log = EpochLog(
            epoch, float(np.mean(losses)), scores.category_accuracy, float(np.mean(list(scores.f1.values()))), time.perf_counter() - start
        )
        history.append(log)
        if on_epoch:
            on_epoch(log)
        if scores.category_accuracy > best_accuracy:
            best_accuracy = scores.category_accuracy
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    net.load_state_dict(best_state)
    return PromptGenerator(net.eval()), history


def write_history(path, history: Sequence[EpochLog]) -> None:
    """Training log as CSV, plus a PNG of loss and validation accuracy beside it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["epoch", "loss", "val_accuracy", "val_f1_mean", "seconds"])
        for log in history:
            writer.writerow([log.epoch, f"{log.loss:.5f}", f"{log.val_accuracy:.4f}", f"{log.val_f1_mean:.4f}", f"{log.seconds:.1f}"])
    figure, left = plt.subplots(figsize=(6, 3.5))
    epochs = [h.epoch for h in history]
    left.plot(epochs, [h.loss for h in history], "o-", color="tab:blue", label="train loss")
    left.set_xlabel("epoch")
    left.set_ylabel("train loss", color="tab:blue")
    right = left.twinx()
    right.plot(epochs, [h.val_accuracy for h in history], "s-", color="tab:green", label="val accuracy")
    right.set_ylabel("val exact-match accuracy", color="tab:green")
    figure.tight_layout()
    with atomic_path(str(path).removesuffix(".csv") + ".png") as tmp:
        figure.savefig(tmp, dpi=100, format="png")
    plt.close(figure)
