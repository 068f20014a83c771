import pytest
import torch

from shared.errors import ConfigError
from stage2_restore.losses import ContrastiveLoss, LossConfig, RestorationLoss, ms_ssim_loss


@pytest.mark.parametrize("side", [8, 32, 48, 128])
def test_ms_ssim_loss_at_every_crop_size(side):
    torch.manual_seed(0)
    clean = torch.rand(2, 3, side, side)
    assert ms_ssim_loss(clean, clean).item() == pytest.approx(0.0, abs=1e-5)
    assert ms_ssim_loss(clean * 0.5, clean).item() > 0.05


def test_contrastive_prefers_the_clean_image(tiny_assessor):
    torch.manual_seed(0)
    clean = torch.rand(2, 3, 32, 32)
    degraded = (clean * 0.3 + 0.6).clamp(0, 1)
    negatives = torch.stack([degraded * 0.5, degraded.flip(-1)], dim=1)
    loss = ContrastiveLoss(str(tiny_assessor))
    near_clean = loss(clean + 0.01, clean, degraded, negatives)
    near_degraded = loss(degraded + 0.01, clean, degraded, negatives)
    assert near_clean < near_degraded


def test_total_loss_reports_its_terms(tiny_assessor):
    clean = torch.rand(1, 3, 32, 32)
    restored = (clean + 0.05).requires_grad_()
    total, parts = RestorationLoss(LossConfig(assessor=str(tiny_assessor)))(restored, clean, clean * 0.2)
    total.backward()
    assert set(parts) == {"pixel", "ms_ssim", "contrastive"} and restored.grad is not None
    _, without = RestorationLoss(LossConfig(contrastive_features="none"))(restored, clean, clean * 0.2)
    assert set(without) == {"pixel", "ms_ssim"}
    with pytest.raises(ConfigError, match="assessor, none"):
        LossConfig(contrastive_features="vgg16")


def test_a_clear_input_is_not_pushed_away_from(tiny_assessor):
    torch.manual_seed(0)
    clean = torch.rand(2, 3, 32, 32)
    loss = ContrastiveLoss(str(tiny_assessor))
    assert loss(clean + 0.01, clean, clean, None).item() == 0.0  # nothing to push from
    negatives = (clean * 0.3)[:, None]
    with_clear = loss(clean + 0.01, clean, torch.stack([clean[0], clean[1] * 0.5]), negatives)
    restored = clean + 0.01
    only_negative = loss(restored[:1], clean[:1], clean[:1], negatives[:1])
    assert torch.isfinite(with_clear) and only_negative > 0
