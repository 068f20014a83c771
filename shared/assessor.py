"""The degradation assessor: a small CNN that says which degradations an image has.

Stage one trains it and words its output as pseudo-prompts; stage two uses its frozen trunk
as the feature space of OneRestore's contrastive loss (ImageNet VGG-16 cannot be downloaded
here). It looks at two views through one shared trunk: the whole frame resized to 128x128
(global light and haze) and a 128x128 crop at native resolution (noise, blur, rain streaks,
flakes, which a resize would wash out), each given with its high-pass residual. Mean, standard
deviation and max pooling of both views feed a 128-d feature and two heads: presence logits and
severities of LABELS.
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
    """Two views -> shared trunk -> mean/std pooling -> feature -> presence logits and severities."""

    def __init__(self, config: AssessorConfig = AssessorConfig()):
        super().__init__()
        self.config = config
        widths = (6, *config.widths)
        self.trunk = nn.Sequential(*[_block(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True)])
        self.project = nn.Sequential(nn.Linear(6 * widths[-1], config.feature_dim), nn.ReLU(inplace=True))
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

    def features(self, global_view: torch.Tensor, local_view: torch.Tensor) -> torch.Tensor:
        """The 128-d image descriptor shared by both heads (and by the local embedder)."""
        return self.project(torch.cat([self._pool(global_view), self._pool(local_view)], dim=1))

    def forward(self, global_view: torch.Tensor, local_view: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        features = self.features(global_view, local_view)
        return self.presence(features), torch.sigmoid(self.severity(features)), features


def make_views(image: np.ndarray, size: int, rng: np.random.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(global, local) 3 x size x size tensors of an HxWx3 float image; a random crop when `rng` is given."""
    tensor = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)
    global_view = F.interpolate(tensor[None], size=(size, size), mode="bilinear", antialias=True, align_corners=False)[0]
    height, width = tensor.shape[1:]
    if height < size or width < size:
        local_view = F.interpolate(tensor[None], size=(size, size), mode="nearest")[0]
    else:
        top = (height - size) // 2 if rng is None else int(rng.integers(0, height - size + 1))
        left = (width - size) // 2 if rng is None else int(rng.integers(0, width - size + 1))
        local_view = tensor[:, top : top + size, left : left + size]
    return global_view.contiguous(), local_view.contiguous()


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
    """16 hex digits of the SHA-256 of an assessor's weights file."""
    return hashlib.sha256((Path(directory) / "model.safetensors").read_bytes()).hexdigest()[:16]


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
