"""E5-V (royokong/e5-v): LLaVA-NeXT on Llama-3-8B, read with E5-V's one-word-summary prompt.

The embedding is the last layer's hidden state at the last token, L2-normalised (E5-V's
pooling). The pseudo-prompt is woven into E5-V's image prompt, so the summary token sees both
the pixels and what the assessor says of them. 4-bit NF4 through bitsandbytes with bf16
compute is the GPU default; bitsandbytes >= 0.49 also quantizes on CPU, so `--quant 4bit`
works there (slowly); `--quant none` loads bf16 on a GPU and fp32 on a CPU.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from shared.errors import RestoreError
from shared.image_io import to_uint8

E5V_HUB_ID = "royokong/e5-v"
LLAMA3_TEMPLATE = "<|start_header_id|>user<|end_header_id|>\n\n{}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n \n"
IMAGE_PROMPT = "<image>\n{prompt}\nSummary above image in one word: "
QUANT_CHOICES = ("auto", "4bit", "8bit", "none")
# transformers >= 4.52 no longer reads these from E5-V's processor config (E5-V issue #26):
PROCESSOR_FIXES = {"patch_size": 14, "vision_feature_select_strategy": "default", "num_additional_image_tokens": 1}


class EmbedderUnavailable(RestoreError):
    """The embedder's weights or hardware are not available here."""


def resolve_model_path(model: str, revision: str | None = None) -> tuple[Path, str]:
    """(local folder, weights revision) of a model folder or a hub id already in the local HF cache."""
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise EmbedderUnavailable(f"{path}: no config.json; expected a LLaVA-NeXT checkpoint folder (save_pretrained layout)")
        listing = sorted((p.name, p.stat().st_size) for p in path.iterdir() if p.suffix in (".safetensors", ".json", ".bin"))
        digest = hashlib.sha256((path / "config.json").read_bytes() + json.dumps(listing).encode()).hexdigest()[:16]
        return path, f"local:{digest}"
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        snapshot = Path(snapshot_download(model, revision=revision, local_files_only=True))
    except (LocalEntryNotFoundError, OSError, ValueError):
        raise EmbedderUnavailable(
            f"{model}: weights not in the local Hugging Face cache and nothing can be downloaded here; "
            f"run `huggingface-cli download {model}` where there is internet, or pass --model DIR"
        ) from None
    return snapshot, f"{model}@{snapshot.name}"


def weights_available(model: str = E5V_HUB_ID) -> bool:
    """True when `model` resolves to local weights (no download is attempted)."""
    try:
        resolve_model_path(model)
    except EmbedderUnavailable:
        return False
    return True


class E5VEmbedder:
    """Image + pseudo-prompt -> E5-V summary-token embedding."""

    name = "e5v"

    def __init__(self, model: str = E5V_HUB_ID, quant: str = "auto", device: str | None = None, revision: str | None = None):
        from transformers import BitsAndBytesConfig, LlavaNextForConditionalGeneration, LlavaNextProcessor
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # library code never prints; the CLI shows its own progress

        if quant not in QUANT_CHOICES:
            raise EmbedderUnavailable(f"--quant {quant!r}: choose one of {', '.join(QUANT_CHOICES)}")
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.quant = ("4bit" if self.device.startswith("cuda") else "none") if quant == "auto" else quant
        path, self.weights_revision = resolve_model_path(model, revision)
        # Where stage two finds these weights again: the folder as an absolute path, else the hub id (its cache is local).
        self.locator = str(path.resolve()) if Path(model).expanduser().is_dir() else model
        self.processor = LlavaNextProcessor.from_pretrained(path, **PROCESSOR_FIXES)
        self.processor.tokenizer.padding_side = "left"  # the last position must be the prompt's last token
        compute = torch.bfloat16 if self.device.startswith("cuda") else torch.float32
        if self.quant == "4bit":
            options = {"quantization_config": BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                       bnb_4bit_compute_dtype=torch.bfloat16, bnb_4bit_use_double_quant=True), "device_map": {"": self.device}}  # fmt: skip
        elif self.quant == "8bit":
            options = {"quantization_config": BitsAndBytesConfig(load_in_8bit=True), "device_map": {"": self.device}}
        else:
            options = {"dtype": compute}
        self.model = LlavaNextForConditionalGeneration.from_pretrained(path, **options).eval()
        if self.quant == "none":
            self.model.to(self.device)
        # E5-V's hub config keeps Mistral's image token id; the tokenizer's <image> is the truth.
        self.model.config.image_token_id = self.processor.tokenizer.convert_tokens_to_ids("<image>")
        self.dim = self.model.config.text_config.hidden_size
        self.prompt_template = LLAMA3_TEMPLATE.format(IMAGE_PROMPT)

    def text_for(self, prompt: str) -> str:
        """The full E5-V input text for one pseudo-prompt."""
        return LLAMA3_TEMPLATE.format(IMAGE_PROMPT.format(prompt=prompt))

    @torch.no_grad()
    def embed(self, images: list[np.ndarray], prompts: list[str], image_features: np.ndarray | None = None) -> np.ndarray:
        """float32 [N, hidden] unit vectors for HxWx3 float images and their pseudo-prompts (`image_features` is unused)."""
        pil_images = [Image.fromarray(to_uint8(image)) for image in images]
        inputs = self.processor(text=[self.text_for(p) for p in prompts], images=pil_images, return_tensors="pt", padding=True)
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="MatMul8bitLt")  # bitsandbytes' 8-bit cast notice, once per layer
            # E5-V pools hidden_states[-1][:, -1]: the base model's last_hidden_state is that same tensor, without
            # the LM head's logits (tokens x 128k vocab) and the 32 other layers' states the full forward would keep.
            hidden = self.model.model(**inputs, return_dict=True).last_hidden_state[:, -1, :]
        return torch.nn.functional.normalize(hidden.float(), dim=-1).cpu().numpy()
