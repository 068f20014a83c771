"""The pseudo-prompt generator: a small CNN that assesses which degradations an image has.

It looks at two views of the image through one shared trunk: the whole frame resized to
128x128 (global light and haze) and a 128x128 crop at native resolution (noise, blur, rain
streaks, flakes, which a resize would wash out). Mean and standard-deviation pooling of both
views feed a 128-d feature (which the local embedder reuses) and two heads: presence logits
and severities for the six labels.
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
from shared.errors import ConfigError
from shared.fileio import atomic_path
from stage1_embed.labels import LABELS, category_of, prompt_of

SHIPPED_PROMPTER = Path(__file__).parent / "weights" / "prompter"


@dataclass(frozen=True)
class PrompterConfig:
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


class PromptGeneratorNet(nn.Module):
    """Two views -> shared trunk -> mean/std pooling -> feature -> presence logits and severities."""

    def __init__(self, config: PrompterConfig = PrompterConfig()):
        super().__init__()
        self.config = config
        widths = (3, *config.widths)
        self.trunk = nn.Sequential(*[_block(a, b) for a, b in zip(widths[:-1], widths[1:])])
        self.project = nn.Sequential(nn.Linear(4 * widths[-1], config.feature_dim), nn.ReLU(inplace=True))
        self.presence = nn.Linear(config.feature_dim, len(LABELS))
        self.severity = nn.Linear(config.feature_dim, len(LABELS))

    def _pool(self, view: torch.Tensor) -> torch.Tensor:
        features = self.trunk(view * 2.0 - 1.0)
        return torch.cat([features.mean(dim=(2, 3)), features.std(dim=(2, 3))], dim=1)

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


@dataclass(frozen=True)
class Assessment:
    """What the generator says of a batch: presence probabilities, severities, prompts, features."""

    probabilities: np.ndarray
    presence: np.ndarray
    severity: np.ndarray
    features: np.ndarray
    prompts: list[str]

    @property
    def categories(self) -> list[str]:
        return [category_of(p) for p in self.presence]


class PromptGenerator:
    """The trained assessor plus the prompt template: images in, pseudo-prompts out."""

    def __init__(self, net: PromptGeneratorNet, weights_hash: str = "untrained"):
        self.net = net.eval()
        self.config = net.config
        self.weights_hash = weights_hash

    @classmethod
    def from_pretrained(cls, directory: str | Path = SHIPPED_PROMPTER) -> PromptGenerator:
        """Load weights (safetensors) and config.json from `directory` (default: the shipped model)."""
        directory = Path(directory)
        weights, config_path = directory / "model.safetensors", directory / "config.json"
        if not weights.is_file() or not config_path.is_file():
            raise ConfigError(f"{directory}: no prompter here (expected model.safetensors and config.json); train one with restore-embed train-prompter")
        config = config_from_dict(PrompterConfig, json.loads(config_path.read_text()), str(config_path))
        net = PromptGeneratorNet(config)
        net.load_state_dict(load_file(weights))
        return cls(net, hashlib.sha256(weights.read_bytes()).hexdigest()[:16])

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write model.safetensors + config.json atomically."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        with atomic_path(directory / "model.safetensors") as tmp:
            save_file({k: v.contiguous() for k, v in self.net.state_dict().items()}, str(tmp))
        save_config(self.config, directory / "config.json")
        self.weights_hash = hashlib.sha256((directory / "model.safetensors").read_bytes()).hexdigest()[:16]
        return directory

    @torch.no_grad()
    def assess(self, images: list[np.ndarray]) -> Assessment:
        """Assess a batch of HxWx3 float images (any sizes)."""
        views = [make_views(image, self.config.view_size) for image in images]
        global_views = torch.stack([v[0] for v in views])
        local_views = torch.stack([v[1] for v in views])
        logits, severity, features = self.net(global_views, local_views)
        probabilities = torch.sigmoid(logits).numpy()
        presence = probabilities >= self.config.threshold
        severity = severity.numpy()
        prompts = [prompt_of(p, s) for p, s in zip(presence, severity)]
        return Assessment(probabilities, presence, severity, features.numpy(), prompts)
