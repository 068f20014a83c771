"""Shared fixtures: tiny real images and the bad files a split meets in the wild."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def write_photo(path: Path, height: int = 24, width: int = 32, seed: int = 0) -> Path:
    """A small smooth colour photo (gradients + a blob), deterministic by seed."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:height, :width] / max(height, width)
    rgb = np.stack([yy, xx, 0.5 + 0.3 * np.sin(6 * xx + rng.uniform(0, 3))], axis=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)).save(path)
    return path


def png_bomb(path: Path, width: int = 30000, height: int = 30000) -> Path:
    """A valid PNG header claiming width x height pixels with almost no data (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    path.write_bytes(body)
    return path


@pytest.fixture
def bad_files(tmp_path: Path) -> dict[str, Path]:
    """Truncated PNG, 0-byte file, text named .jpg, decompression bomb."""
    good = write_photo(tmp_path / "good.png", 40, 40)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    text = tmp_path / "notes.jpg"
    text.write_text("this is not a JPEG\n")
    return {"truncated": truncated, "empty": empty, "text": text, "bomb": png_bomb(tmp_path / "bomb.png")}
