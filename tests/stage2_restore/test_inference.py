import numpy as np
import pytest
import torch

from shared.errors import ConfigError
from stage2_restore.data import DescriptorInputs
from stage2_restore.inference import restore_image, tile_spans
from stage2_restore.network import Restorer, RestorerConfig


def test_tiles_cover_the_image_and_match_a_single_pass_inside_a_tile():
    torch.manual_seed(0)
    model = Restorer(RestorerConfig(width=8, heads=2, embedding_dim=16)).eval()
    image = np.random.default_rng(0).random((70, 90, 3)).astype(np.float32)
    inputs = DescriptorInputs(np.ones(16, np.float32), 0)
    whole = restore_image(model, image, inputs, tile=128)
    tiled = restore_image(model, image, inputs, tile=48, overlap=16)
    assert whole.shape == tiled.shape == image.shape
    assert 0 <= tiled.min() and tiled.max() <= 1
    # Channel attention is global within a tile, so tiles differ a little from one pass, not a lot.
    assert np.abs(whole - tiled).mean() < 0.05
    abutting = restore_image(model, image, inputs, tile=48, overlap=0)
    assert np.isfinite(abutting).all() and np.abs(whole - abutting).mean() < 0.05
    with torch.no_grad():
        direct = model(torch.from_numpy(image).permute(2, 0, 1)[None], torch.ones(1, 16))[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(whole, np.clip(direct, 0, 1), atol=1e-5)


@pytest.mark.parametrize(("length", "tile", "overlap"), [(1024, 512, 32), (2048, 512, 32), (700, 256, 16), (513, 512, 32), (90, 48, 16)])
def test_tile_spans_cover_with_the_overlap_asked_and_no_more_tiles_than_needed(length, tile, overlap):
    spans = tile_spans(length, tile, overlap)
    assert spans[0][0] == 0 and spans[-1][0] + spans[-1][1] == length
    assert all(size <= tile for _, size in spans)
    assert all(a_start + a_size - b_start >= overlap for (a_start, a_size), (b_start, _) in zip(spans, spans[1:], strict=False))
    assert len(spans) == -(-(length - overlap) // (tile - overlap))  # the fewest tiles of at most `tile` that can overlap so
    if (length, tile) == (1024, 512):
        assert sum(size for _, size in spans) == 3 * 368  # fixed 512 px steps would take 3 x 512: half the pixels


@pytest.mark.parametrize(("tile", "overlap"), [(16, 4), (64, 32), (64, 64), (64, 80), (64, -1)])
def test_tilings_that_leave_gaps_or_divide_by_zero_are_refused(tile, overlap):
    with pytest.raises(ConfigError, match="--tile"):
        tile_spans(1000, tile, overlap)
