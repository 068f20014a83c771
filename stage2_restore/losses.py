"""OneRestore's training loss: pixel + (1 - MS-SSIM) + composite-degradation contrastive term.

The contrastive term pulls the restored image towards the clean one and pushes it away from its
degraded input and from other degradations of the same scene, as a ratio of L1 distances in a
frozen feature space. OneRestore uses ImageNet VGG-16 (relu1_2, relu2_2, relu3_3), which cannot
be downloaded here; `contrastive_features="assessor"` uses the first three blocks of the shipped
degradation assessor instead (a network trained to tell degradations apart), "none" drops it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from pytorch_msssim import ms_ssim, ssim
from torch import nn

from shared.assessor import SHIPPED_ASSESSOR, load_assessor
from shared.errors import ConfigError

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
FEATURE_SPACES = ("assessor", "none")


@dataclass(frozen=True)
class LossConfig:
    """Weights of the three terms (OneRestore: 0.6 pixel, 0.3 MS-SSIM, 0.1 contrastive)."""

    pixel: float = 0.6
    ms_ssim: float = 0.3
    contrastive: float = 0.1
    contrastive_features: str = "assessor"
    assessor: str = ""
    """Assessor folder for the contrastive features ("" = the shipped one)."""
    ms_ssim_window: int = 7

    def __post_init__(self) -> None:
        if self.contrastive_features not in FEATURE_SPACES:
            raise ConfigError(f"contrastive_features {self.contrastive_features!r}: choose one of {', '.join(FEATURE_SPACES)}")


def ms_ssim_loss(restored: torch.Tensor, clean: torch.Tensor, window: int = 7) -> torch.Tensor:
    """1 - MS-SSIM, fitted to small crops.

    pytorch_msssim needs side > (window - 1) * 16; below that the window shrinks (odd, >= 3),
    the scales that no longer fit are dropped (weights renormalised), and crops under 33 px use
    single-scale SSIM.
    """
    side = min(restored.shape[-2:])
    while window > 3 and side <= (window - 1) * 16:
        window -= 2
    restored = restored.clamp(0, 1)
    if side <= (window - 1) * 16:
        return 1.0 - ssim(restored, clean, data_range=1.0, win_size=min(window, side - (1 - side % 2)))
    levels = 5
    while levels > 1 and side <= (window - 1) * 2 ** (levels - 1):
        levels -= 1
    weights = [w / sum(MS_SSIM_WEIGHTS[:levels]) for w in MS_SSIM_WEIGHTS[:levels]]
    return 1.0 - ms_ssim(restored, clean, data_range=1.0, win_size=window, weights=weights)


class ContrastiveLoss(nn.Module):
    """Per layer: L1(r, clean) / (mean of L1(r, degraded) and L1(r, each negative) + 1e-7), averaged.

    A sample whose input is already clean (category `clear`) must not be pushed away from its
    input, which is its target: its input is left out of the pushes, and with no negatives left
    it contributes nothing.
    """

    def __init__(self, assessor_dir: str = "", layers: int = 3):
        super().__init__()
        self.features = load_assessor(assessor_dir or SHIPPED_ASSESSOR)
        self.features.requires_grad_(False)
        self.layers = layers

    def _maps(self, image: torch.Tensor) -> list[torch.Tensor]:
        return self.features.trunk_features(image)[: self.layers]

    def forward(self, restored: torch.Tensor, clean: torch.Tensor, degraded: torch.Tensor, negatives: torch.Tensor | None) -> torch.Tensor:
        """`negatives`: (B, N, 3, H, W) other degradations of each scene, or None."""
        self.features.eval()
        anchors = self._maps(restored)
        with torch.no_grad():
            positives = self._maps(clean)
            pushes = [self._maps(degraded)]
            if negatives is not None:
                pushes += [self._maps(negatives[:, j]) for j in range(negatives.shape[1])]
            keep = torch.ones(len(pushes), restored.shape[0], device=restored.device)
            keep[0] = ((degraded - clean).abs().flatten(1).amax(1) > 0).float()  # input == target: not a push
        counts = keep.sum(0)
        if not counts.any():
            return restored.new_zeros(())
        total = restored.new_zeros(())
        for level, anchor in enumerate(anchors):
            pull = (anchor - positives[level]).abs().flatten(1).mean(1)
            push = torch.stack([(anchor - p[level]).abs().flatten(1).mean(1) for p in pushes])
            mean_push = (push * keep).sum(0) / counts.clamp(min=1)
            total = total + (pull / (mean_push + 1e-7))[counts > 0].mean()
        return total / len(anchors)


class RestorationLoss(nn.Module):
    """The weighted sum; returns (total, parts) so the log can show each term."""

    def __init__(self, config: LossConfig):
        super().__init__()
        self.config = config
        self.contrastive = ContrastiveLoss(config.assessor) if config.contrastive_features == "assessor" and config.contrastive else None

    def forward(self, restored, clean, degraded, negatives=None) -> tuple[torch.Tensor, dict[str, float]]:
        pixel = F.l1_loss(restored, clean)
        structure = ms_ssim_loss(restored, clean, self.config.ms_ssim_window)
        total = self.config.pixel * pixel + self.config.ms_ssim * structure
        parts = {"pixel": pixel.item(), "ms_ssim": structure.item()}
        if self.contrastive is not None:
            contrast = self.contrastive(restored, clean, degraded, negatives)
            total = total + self.config.contrastive * contrast
            parts["contrastive"] = contrast.item()
        return total, parts
