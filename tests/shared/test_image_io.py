import numpy as np
import pytest
import tifffile
from PIL import Image

from shared.errors import ImageReadError, ImageWriteError
from shared.image_io import fit_max_side, load_image, save_image


@pytest.mark.parametrize("name", ["truncated", "empty", "text", "bomb"])
def test_bad_files_raise_one_error_naming_the_file(bad_files, name):
    with pytest.raises(ImageReadError) as info:
        load_image(bad_files[name])
    message = str(info.value)
    assert str(bad_files[name]) in message and "\n" not in message


def test_bomb_message_and_configurable_limit(tmp_path, bad_files):
    with pytest.raises(ImageReadError, match="decompression-bomb|too many pixels"):
        load_image(bad_files["bomb"])
    Image.new("RGB", (20, 20)).save(tmp_path / "small.png")
    with pytest.raises(ImageReadError, match="exceeds the"):
        load_image(tmp_path / "small.png", max_pixels=100)
    assert load_image(tmp_path / "small.png", max_pixels=400).size == (20, 20)


def test_missing_file(tmp_path):
    with pytest.raises(ImageReadError, match="not found"):
        load_image(tmp_path / "nope.png")


def test_sixteen_bit_grayscale_png_keeps_precision(tmp_path):
    values = np.linspace(1000, 1300, 120).astype(np.uint16).reshape(10, 12)  # 300 levels inside 2 of 8 bits
    Image.fromarray(values).save(tmp_path / "g16.png")
    loaded = load_image(tmp_path / "g16.png")
    assert loaded.bit_depth == 16
    np.testing.assert_allclose(loaded.rgb[..., 1], values / 65535.0, atol=1e-7)
    assert len(np.unique(loaded.rgb)) > 100  # 8 bits would keep 2 levels of this ramp


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_sixteen_bit_colour_round_trip(tmp_path, suffix):
    rgb = np.random.default_rng(0).random((9, 7, 3), dtype=np.float32)
    alpha = np.linspace(0, 1, 63, dtype=np.float32).reshape(9, 7)
    save_image(tmp_path / f"c16{suffix}", rgb, alpha=alpha, bit_depth=16)
    loaded = load_image(tmp_path / f"c16{suffix}")
    assert loaded.bit_depth == 16
    assert np.abs(loaded.rgb - rgb).max() <= 0.5 / 65535 + 1e-7
    assert np.abs(loaded.alpha - alpha).max() <= 0.5 / 65535 + 1e-7


@pytest.mark.parametrize("layout", ["planar", "multi-page"])
def test_sixteen_bit_tiffs_as_cameras_and_scanners_write_them(tmp_path, layout):
    rgb = np.random.default_rng(1).integers(0, 65536, (9, 7, 3), dtype=np.uint16)
    path = tmp_path / f"{layout}.tif"
    if layout == "planar":  # one plane per channel: Pillow alone would read each as 8 bits
        tifffile.imwrite(path, np.moveaxis(rgb, -1, 0), photometric="rgb", planarconfig="separate")
    else:  # the photo, then a half-size preview
        with tifffile.TiffWriter(path) as writer:
            writer.write(rgb, photometric="rgb")
            writer.write(rgb[::2, ::2], photometric="rgb")
    loaded = load_image(path)
    assert loaded.bit_depth == 16 and loaded.rgb.shape == (9, 7, 3)
    np.testing.assert_allclose(loaded.rgb, rgb / 65535.0, atol=1e-7)


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    Image.new("CMYK", (8, 6), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg")
    loaded = load_image(tmp_path / "cmyk.jpg")
    assert loaded.rgb.shape == (6, 8, 3) and loaded.alpha is None
    assert loaded.rgb[..., 0].mean() > 0.9 and loaded.rgb[..., 1:].mean() < 0.1  # pure red


def test_palette_png_with_transparency_keeps_alpha(tmp_path):
    image = Image.new("P", (4, 3), 1)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.putpixel((0, 0), 0)
    image.info["transparency"] = 0
    image.save(tmp_path / "pal.png", transparency=0)
    loaded = load_image(tmp_path / "pal.png")
    assert loaded.alpha is not None and loaded.alpha[0, 0] == 0.0 and loaded.alpha[1, 1] == 1.0
    np.testing.assert_allclose(loaded.rgb[1, 1], [1, 0, 0])


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA", "1", "I;16"])
def test_other_modes_load_as_rgb(tmp_path, mode):
    Image.new(mode, (5, 4)).save(tmp_path / "m.png")
    loaded = load_image(tmp_path / "m.png")
    assert loaded.rgb.shape == (4, 5, 3) and loaded.rgb.dtype == np.float32
    assert (loaded.alpha is not None) == (mode in ("LA", "RGBA"))


def test_one_pixel_image(tmp_path):
    Image.new("RGB", (1, 1), (255, 128, 0)).save(tmp_path / "one.png")
    np.testing.assert_allclose(load_image(tmp_path / "one.png").rgb[0, 0], [1.0, 128 / 255, 0.0])


def test_exif_orientation_applied(tmp_path):
    image = Image.new("RGB", (8, 4), (10, 20, 30))
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    image.save(tmp_path / "rot.jpg", exif=exif)
    assert load_image(tmp_path / "rot.jpg").rgb.shape == (8, 4, 3)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp", ".tif"])
def test_eight_bit_round_trip_by_extension(tmp_path, suffix):
    rgb = np.full((6, 5, 3), 0.25, np.float32)
    save_image(tmp_path / f"x{suffix}", rgb)
    assert np.abs(load_image(tmp_path / f"x{suffix}").rgb - rgb).max() < 0.02
    assert [p.name for p in tmp_path.iterdir()] == [f"x{suffix}"]  # no temp file left behind


def test_png_alpha_is_reattached(tmp_path):
    rgb = np.zeros((3, 3, 3), np.float32)
    alpha = np.eye(3, dtype=np.float32)
    save_image(tmp_path / "a.png", rgb, alpha=alpha)
    np.testing.assert_array_equal(load_image(tmp_path / "a.png").alpha, alpha)


def test_unknown_extension_refused_without_leaving_files(tmp_path):
    with pytest.raises(ImageWriteError, match=r"\.xyz"):
        save_image(tmp_path / "x.xyz", np.zeros((2, 2, 3)))
    assert list(tmp_path.iterdir()) == []


def test_fit_max_side():
    image = np.ones((100, 50, 3), np.float32)
    assert fit_max_side(image, 40).shape == (40, 20, 3)
    assert fit_max_side(image, None) is image and fit_max_side(image, 200) is image
