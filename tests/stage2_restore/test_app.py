"""The web app in a real browser: restore-app on a loopback port, Debian's Chromium driven by Playwright.

Set RESTORE_SCREENSHOTS=DIR to keep the screenshot (docs/app.png is made that way).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage.data import astronaut

from shared.image_io import load_image, save_image

CHROMIUM = Path("/usr/bin/chromium")

if not CHROMIUM.is_file():
    if os.environ.get("CI") == "true":
        pytest.fail(f"{CHROMIUM} is missing; .ci/run installs it (apt-get install chromium)", pytrace=False)
    pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium); CI always runs this test", allow_module_level=True)

playwright_api = pytest.importorskip("playwright.sync_api")
sync_playwright, expect = playwright_api.sync_playwright, playwright_api.expect


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def app_url():
    """restore-app as shipped (restorer, prompter, local embedder) on a free loopback port."""
    port = _free_port()
    command = [sys.executable, "-c", "from stage2_restore.cli_app import main; main()", "--port", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(f"the app did not start: {server.stdout.read() if server.poll() is not None else 'no answer in 60 s'}")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_upload_restore_compare_and_score_in_chromium(app_url, tmp_path):
    clean = astronaut()[::4, ::4].astype(np.float32) / 255  # 128 x 128, a photo inside scikit-image
    save_image(tmp_path / "clean.png", clean)
    degraded = save_image(tmp_path / "hazy.png", 0.55 * clean + 0.4)  # a flat veil: haze-like, and a known pair
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1100, "height": 1500})  # Streamlit scrolls inside: no full-page shots
        page.goto(app_url)
        huge = tmp_path / "huge.png"
        Image.new("RGB", (6000, 5000)).save(huge)  # 30 MP of black: a small file, too many pixels for the app
        page.locator("input[type=file]").first.set_input_files(str(huge))
        page.get_by_text("huge.png is 30 megapixels; the app takes up to 24").wait_for(timeout=30_000)
        broken = tmp_path / "broken.jpg"
        broken.write_bytes(b"not a photo")
        page.locator("input[type=file]").first.set_input_files(str(broken))
        page.get_by_text("broken.jpg: not an image Pillow can read").wait_for(timeout=30_000)  # its own name, not the app's copy
        assert "restore-app-" not in page.content()

        page.locator("input[type=file]").first.set_input_files(str(degraded))
        page.get_by_text("Detected:").wait_for(timeout=90_000)
        prompt = page.get_by_label("Prompt (edit it to steer")
        expect(prompt).to_have_value(re.compile("^a "))  # the detected pseudo-prompt, ready to edit
        prompt.fill("dense haze")  # steer: the photo is re-embedded with the user's words
        prompt.press("Enter")
        page.get_by_role("button", name="Restore").click()
        page.get_by_text("after — a photo with dense haze").wait_for(timeout=90_000)
        loaded = "() => [...document.querySelectorAll('[data-testid=stImage] img')].filter(i => i.complete && i.naturalWidth).length == 2"
        page.wait_for_function(loaded, timeout=30_000)
        assert page.locator("[data-testid=stImage] img").nth(1).evaluate("img => img.naturalWidth") == 128
        page.get_by_role("button", name="Download restored PNG").wait_for(state="visible", timeout=30_000)  # rendered after the images

        page.locator("input[type=file]").nth(1).set_input_files(str(tmp_path / "clean.png"))
        page.get_by_text("PSNR restored").wait_for(timeout=60_000)
        metrics = page.locator("[data-testid=stMetricValue]").all_inner_texts()
        assert len(metrics) == 4 and metrics[0].endswith("dB")
        expected_input_psnr = -10 * np.log10(np.mean((load_image(degraded).rgb - clean) ** 2))
        assert float(metrics[0].split()[0]) == pytest.approx(expected_input_psnr, abs=0.01)

        screenshot = tmp_path / "app.png"
        page.screenshot(path=str(screenshot))
        browser.close()
    assert screenshot.stat().st_size > 10_000
    if os.environ.get("RESTORE_SCREENSHOTS"):
        target = Path(os.environ["RESTORE_SCREENSHOTS"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(screenshot, target / "app.png")
