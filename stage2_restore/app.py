"""The web app (a Streamlit script; start it with `restore-app`): upload, see what was detected, steer, restore, compare.

The checkpoint comes from $RESTORE_CHECKPOINT (restore-app sets it); the shipped one otherwise.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image

from shared.contract import PHOTO_CATEGORY, cache_key, photo_image_id, read_binding
from shared.errors import RestoreError
from shared.image_io import IMAGE_SUFFIXES, load_image, to_uint8
from shared.metrics import psnr, ssim
from stage2_restore.network import Restorer
from stage2_restore.photos import SHIPPED_RESTORER, RestoreOptions, embed_photos, is_confidently_clear, restoration_share, restore_loaded

MAX_MEGAPIXELS = 24  # the app restores on the server's CPU while the user waits; bigger photos belong to `restore`
UPLOAD_TYPES = sorted(suffix.lstrip(".") for suffix in IMAGE_SUFFIXES)


@st.cache_resource
def load_model(checkpoint: str) -> Restorer:
    return Restorer.from_pretrained(checkpoint)


def describe(data: bytes, suffix: str, checkpoint: str, prompt: str | None) -> tuple[np.ndarray, object]:
    """(the photo's RGB, its stage-one record) for the uploaded bytes, auto-detected or steered by `prompt`."""
    with tempfile.TemporaryDirectory(prefix="restore-app-") as work:
        photo = Path(work) / f"upload{suffix}"
        photo.write_bytes(data)
        loaded = load_image(photo, max_pixels=MAX_MEGAPIXELS * 1_000_000)
        cache = embed_photos([photo], read_binding(checkpoint), Path(work), prompt, str(checkpoint))
        record = cache[cache_key(photo_image_id(0), PHOTO_CATEGORY)]
        cache.close()
    return loaded.rgb, record


def named_for_the_user(error: RestoreError, name: str) -> str:
    """The error's message with the app's temporary copy of the upload called by the upload's own name."""
    return re.sub(r"\S*restore-app-[^/\s]+/upload(\.\w+)?", name, str(error))


def megapixels_over_limit(data: bytes) -> float:
    """The upload's megapixels when above MAX_MEGAPIXELS (read from the header only), else 0."""
    try:
        with Image.open(io.BytesIO(data)) as probe:
            megapixels = probe.size[0] * probe.size[1] / 1e6
    except (OSError, ValueError, Image.DecompressionBombError):
        return 0.0  # unreadable: load_image reports it with the file's name
    return megapixels if megapixels > MAX_MEGAPIXELS else 0.0


def png_bytes(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(to_uint8(rgb)).save(buffer, format="PNG")
    return buffer.getvalue()


def main() -> None:
    checkpoint = os.environ.get("RESTORE_CHECKPOINT") or str(SHIPPED_RESTORER)
    st.set_page_config(page_title="mllm-restore", layout="wide")
    st.title("mllm-restore")
    st.caption("Removes low light, haze, rain, snow, noise and blur — alone or together. Runs on this machine's CPU.")
    upload = st.file_uploader(f"Photo (up to {MAX_MEGAPIXELS} megapixels)", type=UPLOAD_TYPES, key="photo")
    if upload is None:
        st.session_state.pop("digest", None)  # the same photo uploaded again starts afresh, not from its last restoration
        st.info("Upload a photo to start.")
        return
    data, suffix = upload.getvalue(), Path(upload.name).suffix.lower()
    too_big = megapixels_over_limit(data)
    if too_big:
        st.error(f"{upload.name} is {too_big:.0f} megapixels; the app takes up to {MAX_MEGAPIXELS}. Downscale it, or run "
                 f"`restore {upload.name} -o restored.png` on your machine: the command has no such limit.")  # fmt: skip
        return
    digest = hashlib.sha256(data).hexdigest()
    state = st.session_state
    try:
        if state.get("digest") != digest:
            with st.spinner("Looking for degradations..."):
                rgb, record = describe(data, suffix, checkpoint, None)
            state.update(digest=digest, rgb=rgb, detected=record, record=record, restored=None)
    except RestoreError as exc:
        st.error(named_for_the_user(exc, upload.name))
        return
    confidence = float(state.detected.confidence().min())
    defaults = RestoreOptions()
    clear = is_confidently_clear(state.detected, defaults.keep_clear)
    share = restoration_share(state.detected, defaults.keep_clear, defaults.sure)
    doubt = "unsure, but " if confidence < defaults.sure else ""
    note = f" — {doubt}nothing to remove, so the strength starts at 0" if clear else ""
    note = f" — unsure, so the strength starts at {share:.2f}" if 0 < share < 1 else note
    st.markdown(f"**Detected:** {state.detected.prompt} (confidence {confidence:.2f}{note})")
    # One box per photo whose default is the detected prompt: it shows from the first frame (a value put in session
    # state is applied a moment after the box appears, so it briefly reads as empty), and an edit stays with its photo.
    prompt = st.text_input("Prompt (edit it to steer the restoration, e.g. 'haze and heavy rain')",
                           value=state.detected.prompt, key=f"prompt-{digest}")  # fmt: skip
    steered = prompt.strip() != state.detected.prompt  # the user's words are taken as certain, as `restore --prompt` does
    start = 1.0 if steered else round(share * 20) / 20  # on the slider's steps
    strength = st.slider("Strength", 0.0, 1.0, start, 0.05, help="0 keeps the input, 1 the full restoration")
    if st.button("Restore", type="primary"):
        try:
            with st.spinner("Restoring..."):
                record = state.detected
                if steered:
                    _, record = describe(data, suffix, checkpoint, prompt.strip())
                state.record = record
                state.restored = restore_loaded(load_model(checkpoint), state.rgb, record, strength)
        except RestoreError as exc:
            st.error(named_for_the_user(exc, upload.name))
    if state.get("restored") is None:
        st.image(to_uint8(state.rgb), caption=f"input: {upload.name}", width="stretch")
        return
    before, after = st.columns(2)
    before.image(to_uint8(state.rgb), caption="before", width="stretch")
    after.image(to_uint8(state.restored), caption=f"after — {state.record.prompt}", width="stretch")
    stem = Path(upload.name).stem
    st.download_button("Download restored PNG", png_bytes(state.restored), file_name=f"{stem}.restored.png", mime="image/png")
    truth = st.file_uploader("Ground truth (optional): scores the result", type=UPLOAD_TYPES, key="truth")
    if truth is not None:
        with tempfile.TemporaryDirectory(prefix="restore-app-") as work:
            path = Path(work) / f"truth{Path(truth.name).suffix.lower()}"
            path.write_bytes(truth.getvalue())
            try:
                clean = load_image(path, max_pixels=MAX_MEGAPIXELS * 1_000_000).rgb
            except RestoreError as exc:
                st.error(str(exc).replace(str(path), truth.name))
                return
        if clean.shape != state.rgb.shape:
            found, wanted = f"{clean.shape[1]}x{clean.shape[0]}", f"{state.rgb.shape[1]}x{state.rgb.shape[0]}"
            st.error(f"{truth.name} is {found}, the photo {wanted}: sizes must match")
            return
        scores = {"input": (psnr(clean, state.rgb), ssim(clean, state.rgb))}
        scores["restored"] = (psnr(clean, state.restored), ssim(clean, state.restored))
        columns = st.columns(4)
        columns[0].metric("PSNR input", f"{scores['input'][0]:.2f} dB")
        columns[1].metric("PSNR restored", f"{scores['restored'][0]:.2f} dB", f"{scores['restored'][0] - scores['input'][0]:+.2f} dB")
        columns[2].metric("SSIM input", f"{scores['input'][1]:.4f}")
        columns[3].metric("SSIM restored", f"{scores['restored'][1]:.4f}", f"{scores['restored'][1] - scores['input'][1]:+.4f}")


main()
