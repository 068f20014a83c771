"""The degradation assessor: a small CNN that says which degradations an image has.

Stage one trains it and words its output as pseudo-prompts; stage two uses its frozen trunk
as the feature space of OneRestore's contrastive loss (ImageNet VGG-16 cannot be downloaded
here). It looks through one shared trunk at the whole frame resized to 128x128 (global light
and haze) and at `crops` 128x128 crops at native resolution spread over the frame (noise, blur,
rain streaks, flakes, which a resize would wash out; thin and sparse, so one central crop can
miss them), each given with its high-pass residual. Mean, standard deviation and max pooling of
every view; the crops' evidence is pooled by mean and by max (a few streaks in one corner count),
and feeds with the global view a 128-d feature and two heads: presence logits and severities of
LABELS. Per-label temperatures, fitted on validation, calibrate the presence probabilities.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from shared.config import config_from_dict, save_config
from shared.contract import LABELS
from shared.errors import ConfigError
from shared.fileio import atomic_path

SHIPPED_ASSESSOR = Path(__file__).parent / "weights" / "assessor"


@dataclass(frozen=True)
class AssessorConfig:
    """Architecture of the assessor; saved as config.json beside its weights."""

    widths: tuple[int, ...] = (32, 48, 64, 96, 128)
    feature_dim: int = 128
    view_size: int = 128
    threshold: float = 0.5
    crops: int = 1
    """Native-resolution crops per image (1: a single central crop, as the first release)."""
    temperatures: tuple[float, ...] = (1.0,) * len(LABELS)
    """Per-label logit temperatures fitted on validation: probability = sigmoid(logit / T)."""


def _block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class AssessorNet(nn.Module):
    """Global view + crops -> shared trunk -> pooling -> feature -> presence logits and severities."""

    def __init__(self, config: AssessorConfig = AssessorConfig()):
        super().__init__()
        self.config = config
        widths = (6, *config.widths)
        self.trunk = nn.Sequential(*[_block(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True)])
        crop_stats = 1 if config.crops == 1 else 2
        self.project = nn.Sequential(nn.Linear(3 * widths[-1] * (1 + crop_stats), config.feature_dim), nn.ReLU(inplace=True))
        self.presence = nn.Linear(config.feature_dim, len(LABELS))
        self.severity = nn.Linear(config.feature_dim, len(LABELS))

    @staticmethod
    def _inputs(image: torch.Tensor) -> torch.Tensor:
        """RGB in [-1,1] plus its amplified high-pass residual (image - 3x3 mean).

        Streaks, flakes and noise live in the residual and blur removes it; handing it to the
        first layer lets a small net learn those cues in a few thousand steps.
        """
        smooth = F.avg_pool2d(F.pad(image, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
        return torch.cat([image * 2.0 - 1.0, (image - smooth) * 8.0], dim=1)

    def trunk_features(self, image: torch.Tensor) -> list[torch.Tensor]:
        """Feature maps after each trunk block, for images in [0,1] (the contrastive loss's space)."""
        maps, x = [], self._inputs(image)
        for block in self.trunk:
            x = block(x)
            maps.append(x)
        return maps

    def _pool(self, view: torch.Tensor) -> torch.Tensor:
        features = self.trunk(self._inputs(view))
        # Max pooling catches sparse evidence (a few flakes or streaks) that the mean dilutes.
        return torch.cat([features.mean(dim=(2, 3)), features.std(dim=(2, 3)), features.amax(dim=(2, 3))], dim=1)

    def features(self, global_view: torch.Tensor, crops: torch.Tensor) -> torch.Tensor:
        """The 128-d image descriptor shared by both heads (and by the local embedder).

        global_view: B x 3 x S x S; crops: B x N x 3 x S x S.
        """
        batch, count = crops.shape[:2]
        pooled = self._pool(crops.flatten(0, 1)).view(batch, count, -1)
        local = pooled[:, 0] if self.config.crops == 1 else torch.cat([pooled.mean(dim=1), pooled.amax(dim=1)], dim=1)
        return self.project(torch.cat([self._pool(global_view), local], dim=1))

    def forward(self, global_view: torch.Tensor, crops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(presence logits before calibration, severities, features)."""
        features = self.features(global_view, crops)
        return self.presence(features), torch.sigmoid(self.severity(features)), features

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """Calibrated presence probabilities of `logits`."""
        return torch.sigmoid(logits / torch.tensor(self.config.temperatures, dtype=logits.dtype, device=logits.device))


def crop_origins(height: int, width: int, size: int, count: int, rng: np.random.Generator | None = None) -> list[tuple[int, int]]:
    """Top-left corners of `count` size x size crops: random with `rng`, else a grid covering the frame (one: the centre)."""
    if rng is not None:
        return [(int(rng.integers(0, height - size + 1)), int(rng.integers(0, width - size + 1))) for _ in range(count)]
    if count == 1:
        return [((height - size) // 2, (width - size) // 2)]
    rows = max(1, int(round(np.sqrt(count * height / width))))
    columns = max(1, -(-count // rows))
    centres = [((r + 0.5) / rows, (c + 0.5) / columns) for r in range(rows) for c in range(columns)][:count]
    return [(int(round(y * height - size / 2)), int(round(x * width - size / 2))) for y, x in centres]


def make_views(image: np.ndarray, size: int, rng: np.random.Generator | None = None, crops: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """(global 3 x S x S, crops N x 3 x S x S) of an HxWx3 float image; random crops when `rng` is given."""
    tensor = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)
    global_view = F.interpolate(tensor[None], size=(size, size), mode="bilinear", antialias=True, align_corners=False)[0]
    height, width = tensor.shape[1:]
    if height < size or width < size:
        local = F.interpolate(tensor[None], size=(size, size), mode="nearest")[0]
        return global_view.contiguous(), local[None].expand(crops, -1, -1, -1).contiguous()
    origins = crop_origins(height, width, size, crops, rng)
    origins = [(min(max(top, 0), height - size), min(max(left, 0), width - size)) for top, left in origins]
    local = torch.stack([tensor[:, top : top + size, left : left + size] for top, left in origins])
    return global_view.contiguous(), local.contiguous()


def stack_views(images, size: int, crops: int, rng: np.random.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of views: (B x 3 x S x S, B x N x 3 x S x S)."""
    views = [make_views(image, size, rng, crops) for image in images]
    return torch.stack([v[0] for v in views]), torch.stack([v[1] for v in views])


def save_assessor(net: AssessorNet, directory: str | Path) -> str:
    """Write model.safetensors (floats as fp16: half the size, same decisions) + config.json; return the hash."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in net.state_dict().items()}
    with atomic_path(directory / "model.safetensors") as tmp:
        save_file(state, str(tmp))
    save_config(net.config, directory / "config.json")
    return weights_hash(directory)


def weights_hash(directory: str | Path) -> str:
    """16 hex digits identifying what an assessor decides: SHA-256 of its weights file, plus its crops,
    threshold and temperatures when they differ from the first release's (whose hash stays as it was)."""
    directory = Path(directory)
    digest = hashlib.sha256((directory / "model.safetensors").read_bytes())
    config_path = directory / "config.json"
    if config_path.is_file():
        config = config_from_dict(AssessorConfig, json.loads(config_path.read_text()), str(config_path))
        decisions = {"crops": config.crops, "threshold": config.threshold, "temperatures": list(config.temperatures)}
        if decisions != {"crops": 1, "threshold": 0.5, "temperatures": [1.0] * len(LABELS)}:
            digest.update(json.dumps(decisions, sort_keys=True).encode())
    return digest.hexdigest()[:16]


def is_head_parameter(name: str) -> bool:
    """Whether a state-dict entry belongs to the presence or severity head (not to the image feature)."""
    return name.startswith(("presence.", "severity."))


def same_features(a: AssessorNet, b: AssessorNet) -> bool:
    """Whether two assessors compute the same image feature: the same views and every weight outside the two heads equal.

    Vectors made with either then differ only where their words do, so a restorer trained on one's reads the other's.
    """
    views = ("widths", "feature_dim", "view_size", "crops")
    if any(getattr(a.config, name) != getattr(b.config, name) for name in views):
        return False
    mine, theirs = a.state_dict(), b.state_dict()
    names = {k for k in mine.keys() | theirs.keys() if not is_head_parameter(k)}
    return all(k in mine and k in theirs and mine[k].shape == theirs[k].shape and torch.equal(mine[k], theirs[k]) for k in names)


def load_assessor(directory: str | Path = SHIPPED_ASSESSOR) -> AssessorNet:
    """An assessor in eval mode from a folder written by save_assessor (default: the shipped one)."""
    directory = Path(directory)
    weights, config_path = directory / "model.safetensors", directory / "config.json"
    if not weights.is_file() or not config_path.is_file():
        raise ConfigError(
            f"{directory}: no assessor here (expected model.safetensors and config.json); train one with restore-embed train-prompter"
        )
    net = AssessorNet(config_from_dict(AssessorConfig, json.loads(config_path.read_text()), str(config_path)))
    net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in load_file(weights).items()})
    return net.eval()
