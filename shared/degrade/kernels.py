"""Small image operators shared by the synthesizers: line kernels, FFT convolution, guided filter."""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage, signal
from skimage.draw import line_aa


def line_kernel(length: float, angle_deg: float) -> np.ndarray:
    """Anti-aliased line of `length` px at `angle_deg` from vertical, peak 1 (a streak or a motion path)."""
    length = max(1.0, float(length))
    size = int(math.ceil(length)) | 1
    centre = size // 2
    half = (length - 1) / 2
    dy, dx = half * math.cos(math.radians(angle_deg)), half * math.sin(math.radians(angle_deg))
    kernel = np.zeros((size, size), np.float32)
    rows, cols, values = line_aa(int(round(centre - dy)), int(round(centre - dx)), int(round(centre + dy)), int(round(centre + dx)))
    inside = (rows >= 0) & (rows < size) & (cols >= 0) & (cols < size)
    kernel[rows[inside], cols[inside]] = values[inside]
    kernel[centre, centre] = 1.0
    return kernel


def disk_kernel(radius: float) -> np.ndarray:
    """Normalised defocus disk (pillbox) of `radius` px, with a soft edge."""
    size = 2 * int(math.ceil(radius)) + 1
    yy, xx = np.mgrid[:size, :size] - size // 2
    kernel = np.clip(radius + 0.5 - np.hypot(yy, xx), 0.0, 1.0).astype(np.float32)
    return kernel / kernel.sum()


def ellipse_window(
    shape: tuple[int, int], centre: tuple[float, float], radius_y: float, radius_x: float
) -> tuple[tuple[slice, slice], np.ndarray] | None:
    """The window of `shape` around an ellipse (2 px beyond its rim) and each window pixel's distance from the centre
    in radii (1 on the rim); None when the window is empty (the ellipse lies outside)."""
    height, width = shape
    cy, cx = centre
    top, bottom = int(max(0, cy - radius_y - 2)), int(min(height, cy + radius_y + 2))
    left, right = int(max(0, cx - radius_x - 2)), int(min(width, cx + radius_x + 2))
    if top >= bottom or left >= right:
        return None
    yy, xx = np.mgrid[top:bottom, left:right]
    return (slice(top, bottom), slice(left, right)), np.hypot((yy - cy) / radius_y, (xx - cx) / radius_x)


def convolve(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Same-size convolution of a HxW or HxWxC image with reflect padding (FFT: kernels can be large)."""
    pad_y, pad_x = kernel.shape[0] // 2, kernel.shape[1] // 2
    spatial = ((pad_y, pad_y), (pad_x, pad_x)) + ((0, 0),) * (image.ndim - 2)
    padded = np.pad(image, spatial, mode="reflect" if min(image.shape[:2]) > max(pad_y, pad_x) else "edge")
    kernel = kernel if image.ndim == 2 else kernel[..., None]
    out = signal.fftconvolve(padded, kernel, mode="valid", axes=(0, 1))
    return out.astype(np.float32)


def guided_filter(guide: np.ndarray, source: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter with a gray guide: edge-preserving smoothing of `source`."""
    size = 2 * radius + 1

    def box(x: np.ndarray) -> np.ndarray:
        return ndimage.uniform_filter(x, size=size, mode="reflect")

    mean_g, mean_s = box(guide), box(source)
    cov = box(guide * source) - mean_g * mean_s
    var = box(guide * guide) - mean_g * mean_g
    a = cov / (var + eps)
    b = mean_s - a * mean_g
    return (box(a) * guide + box(b)).astype(np.float32)
