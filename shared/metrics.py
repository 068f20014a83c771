"""PSNR and SSIM on RGB in [0, 1] through scikit-image, with a Y-channel option.

Full-RGB SSIM with scikit-image's default 7x7 window is how OneRestore scores CDD-11
(img_file/cal_psnr_ssim.py), so our numbers are comparable to its table.
"""

from __future__ import annotations

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

# ITU-R BT.601 luma as used by MATLAB's rgb2ycbcr and BasicSR (studio swing, 16..235).
_Y_WEIGHTS = np.array([65.481, 128.553, 24.966], dtype=np.float64) / 255.0


def rgb_to_y(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma of RGB in [0,1], in [16/255, 235/255]."""
    return np.asarray(rgb, dtype=np.float64) @ _Y_WEIGHTS + 16.0 / 255.0


def _prepare(clean: np.ndarray, restored: np.ndarray, y_channel: bool) -> tuple[np.ndarray, np.ndarray]:
    clean = np.clip(np.asarray(clean, dtype=np.float64), 0.0, 1.0)
    restored = np.clip(np.asarray(restored, dtype=np.float64), 0.0, 1.0)
    if clean.shape != restored.shape:
        raise ValueError(f"shape mismatch: clean {clean.shape} vs restored {restored.shape}")
    if y_channel:
        return rgb_to_y(clean), rgb_to_y(restored)
    return clean, restored


def psnr(clean: np.ndarray, restored: np.ndarray, y_channel: bool = False) -> float:
    """PSNR in dB (data_range 1); identical images give +inf."""
    clean, restored = _prepare(clean, restored, y_channel)
    if np.array_equal(clean, restored):
        return float("inf")
    return float(peak_signal_noise_ratio(clean, restored, data_range=1.0))


def ssim(clean: np.ndarray, restored: np.ndarray, y_channel: bool = False) -> float:
    """Mean SSIM (data_range 1, 7x7 window); images smaller than 7 px use the largest odd window that fits."""
    clean, restored = _prepare(clean, restored, y_channel)
    win_size = min(7, *[s if s % 2 else s - 1 for s in clean.shape[:2]])
    if win_size < 3:
        return float(np.array_equal(clean, restored))
    channel_axis = None if y_channel else -1
    return float(structural_similarity(clean, restored, data_range=1.0, channel_axis=channel_axis, win_size=win_size))
