"""Load any Pillow-readable image as float32 RGB in [0, 1]; save by extension, atomically.

Alpha is kept aside (never mixed into the RGB the restorer sees) and re-attached on save.
16-bit sources keep their precision: grayscale through Pillow's I;16 modes, RGB PNG through
pypng and RGB TIFF through tifffile, because Pillow truncates 48-bit colour to 8 bits.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import png
import tifffile
from PIL import Image, ImageOps, UnidentifiedImageError
from skimage.transform import resize

from shared.errors import ImageReadError, ImageWriteError
from shared.fileio import atomic_path

DEFAULT_MAX_PIXELS = 120_000_000
"""Refuse images above this many pixels: a 12k x 10k photo passes, a decompression bomb does not."""

SAVE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF"}
IMAGE_SUFFIXES = frozenset(SAVE_FORMATS) | {".bmp", ".gif", ".ppm", ".pgm"}


@dataclass(frozen=True)
class LoadedImage:
    """Pixels of one file: `rgb` float32 HxWx3 in [0,1], optional `alpha` float32 HxW."""

    rgb: np.ndarray
    alpha: np.ndarray | None
    bit_depth: int
    path: Path | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return self.rgb.shape[1], self.rgb.shape[0]


def load_image(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Read `path` with EXIF orientation applied; every failure raises ImageReadError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise ImageReadError(f"{path}: empty file (0 bytes); re-export it or remove it")
    try:
        with warnings.catch_warnings():
            # Our own pixel limit below is the guard; Pillow's warning would only be noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                _check_pixels(path, image.size, max_pixels)
                if _is_16bit_colour(image):
                    loaded = _load_16bit_colour(path, image)
                else:
                    image.load()
                    loaded = _from_pillow(path, ImageOps.exif_transpose(image))
    except UnidentifiedImageError:
        raise ImageReadError(f"{path}: not an image Pillow can read (wrong extension or not an image file); convert or remove it") from None
    except Image.DecompressionBombError:
        raise ImageReadError(f"{path}: too many pixels (decompression-bomb guard); downscale it first") from None
    except (OSError, SyntaxError, ValueError, png.Error, tifffile.TiffFileError) as exc:
        raise ImageReadError(f"{path}: truncated or corrupt image data ({exc}); re-export it or remove it") from None
    return loaded


def _check_pixels(path: Path, size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width * height > max_pixels:
        raise ImageReadError(
            f"{path}: {width}x{height} = {width * height / 1e6:.0f} MP exceeds the {max_pixels / 1e6:.0f} MP limit "
            "(decompression-bomb guard); downscale it or raise max_pixels"
        )
    if width < 1 or height < 1:
        raise ImageReadError(f"{path}: image has no pixels ({width}x{height})")


def _is_16bit_colour(image: Image.Image) -> bool:
    """Pillow opens 48/64-bit PNG and TIFF as 8-bit RGB(A); detect them from the raw tile mode."""
    if image.format not in ("PNG", "TIFF") or image.mode not in ("RGB", "RGBA") or not image.tile:
        return False
    if image.format == "TIFF":  # from the tag: a planar TIFF's tiles name 8-bit planes whatever its depth
        bits = image.tag_v2.get(258, 8)
        return 16 in (bits if isinstance(bits, tuple) else (bits,))
    args = image.tile[0][3]  # indexed, not .args: Pillow's tiles are plain tuples before 11
    rawmode = args[0] if isinstance(args, tuple) else args
    return isinstance(rawmode, str) and ";16" in rawmode


def _load_16bit_colour(path: Path, image: Image.Image) -> LoadedImage:
    orientation = image.getexif().get(0x0112, 1)
    if image.format == "PNG":
        width, height, rows, info = png.Reader(filename=str(path)).asDirect()
        planes = info["planes"]
        array = np.vstack([np.asarray(row, dtype=np.uint16) for row in rows]).reshape(height, width, planes)
    else:
        with tifffile.TiffFile(path) as tiff:  # the first page only: a multi-page TIFF is one photo plus previews
            page = tiff.pages[0]
            array = page.asarray()
            if page.planarconfig == tifffile.PLANARCONFIG.SEPARATE:
                array = np.moveaxis(array, 0, -1)
        if array.ndim != 3 or array.shape[-1] not in (3, 4):
            raise ImageReadError(f"{path}: a TIFF of shape {array.shape} is not an RGB photo; save it as RGB and try again")
    array = _apply_orientation(array, orientation).astype(np.float32) / 65535.0
    alpha = array[..., 3] if array.shape[-1] == 4 else None
    return LoadedImage(np.ascontiguousarray(array[..., :3]), alpha, 16, path)


def _apply_orientation(array: np.ndarray, orientation: int) -> np.ndarray:
    """The eight EXIF orientations as numpy flips and rotations, matching ImageOps.exif_transpose."""
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
        8: lambda a: np.rot90(a, 1),
    }
    return np.ascontiguousarray(ops.get(orientation, lambda a: a)(array))


def _from_pillow(path: Path, image: Image.Image) -> LoadedImage:
    mode = image.mode
    if mode.startswith("I;16") or mode == "I":
        values = np.asarray(image, dtype=np.float32)
        scale = 65535.0 if values.max(initial=0) <= 65535 else float(np.iinfo(np.int32).max)
        gray = np.clip(values / scale, 0.0, 1.0)
        return LoadedImage(np.repeat(gray[..., None], 3, axis=2), None, 16, path)
    if mode == "F":
        gray = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
        return LoadedImage(np.repeat(gray[..., None], 3, axis=2), None, 16, path)
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in image.info)
    if mode in ("L", "1"):
        image = image.convert("RGB")
    elif has_alpha:
        image = image.convert("RGBA")
    elif mode != "RGB":
        image = image.convert("RGB")
    array = np.asarray(image, dtype=np.float32) / 255.0
    alpha = array[..., 3].copy() if has_alpha else None
    return LoadedImage(np.ascontiguousarray(array[..., :3]), alpha, 8, path)


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """Float [0,1] -> uint8 with rounding (not truncation, which darkens by half a level)."""
    return np.round(np.clip(rgb, 0.0, 1.0) * 255.0).astype(np.uint8)


def to_uint16(rgb: np.ndarray) -> np.ndarray:
    """Float [0,1] -> uint16 with rounding."""
    return np.round(np.clip(rgb, 0.0, 1.0) * 65535.0).astype(np.uint16)


def save_image(
    path: str | Path,
    rgb: np.ndarray,
    alpha: np.ndarray | None = None,
    bit_depth: int = 8,
    quality: int = 95,
) -> Path:
    """Write `rgb` (HxWx3 float in [0,1]) by the file's extension, atomically.

    16 bits are kept for PNG and TIFF; JPEG and WebP hold 8 bits, so they get 8. JPEG drops alpha.
    """
    path = Path(path)
    fmt = SAVE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ImageWriteError(
            f"{path}: cannot save {path.suffix or 'files without an extension'}; use one of {', '.join(sorted(SAVE_FORMATS))}"
        )
    if bit_depth not in (8, 16):
        raise ImageWriteError(f"{path}: bit depth must be 8 or 16, got {bit_depth}")
    rgb = np.asarray(rgb, dtype=np.float32)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ImageWriteError(f"{path}: expected an HxWx3 array, got shape {rgb.shape}")
    channels = rgb if alpha is None or fmt == "JPEG" else np.concatenate([rgb, alpha[..., None]], axis=2)
    if fmt not in ("PNG", "TIFF"):
        bit_depth = 8
    with atomic_path(path) as tmp:
        if bit_depth == 16 and fmt == "PNG":
            height, width, planes = channels.shape
            writer = png.Writer(width, height, bitdepth=16, greyscale=False, alpha=planes == 4)
            with open(tmp, "wb") as handle:
                writer.write(handle, to_uint16(channels).reshape(height, width * planes))
        elif bit_depth == 16:
            tifffile.imwrite(tmp, to_uint16(channels), photometric="rgb", compression="zlib")
        else:
            options = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
            Image.fromarray(to_uint8(channels)).save(tmp, format=fmt, **options)
    return path


def fit_max_side(image: np.ndarray, max_side: int | None) -> np.ndarray:
    """Anti-aliased downscale so the long side is at most `max_side` (None or smaller images: unchanged)."""
    if max_side is None or max(image.shape[:2]) <= max_side:
        return image
    scale = max_side / max(image.shape[:2])
    shape = (max(1, round(image.shape[0] * scale)), max(1, round(image.shape[1] * scale)))
    return resize(image, shape + image.shape[2:], anti_aliasing=True, preserve_range=True).astype(np.float32)
