"""Embedders: one interface (`name`, `dim`, `weights_revision`, `locator`, `prompt_template`, `embed`)."""

from __future__ import annotations

import torch

from shared.contract import Fingerprint
from shared.errors import ConfigError
from stage1_embed.embedders.e5v import E5V_HUB_ID, E5VEmbedder, EmbedderUnavailable, weights_available
from stage1_embed.embedders.local import LocalEmbedder
from stage1_embed.labels import PROMPT_TEMPLATE
from stage1_embed.prompter import PromptGenerator

EMBEDDERS = {"e5v": E5VEmbedder, "local": LocalEmbedder}
ENCODER_CHOICES = ("auto", *EMBEDDERS)


def fingerprint_of(embedder, prompter: PromptGenerator) -> Fingerprint:
    """What identifies the vectors `embedder` writes with `prompter`'s pseudo-prompts."""
    return Fingerprint(
        embedder=embedder.name,
        weights_revision=embedder.weights_revision,
        prompt_template=f"{PROMPT_TEMPLATE} || {embedder.prompt_template}",
        prompter_hash=prompter.weights_hash,
        dim=embedder.dim,
        model_locator=getattr(embedder, "locator", ""),  # "" = the embedder's default weights
        prompter_locator=prompter.locator,
    )


def create_embedder(encoder: str, prompter: PromptGenerator, model: str | None = None, quant: str = "auto", device: str | None = None):
    """(embedder, why it was chosen) for --encoder auto|e5v|local; unknown names list the choices.

    `device` places E5-V (e.g. "cuda:3"); default: the first GPU if any. The local embedder runs on CPU.
    """
    if encoder not in ENCODER_CHOICES:
        raise ConfigError(f"--encoder {encoder!r}: choose one of {', '.join(ENCODER_CHOICES)}")
    if encoder == "auto":
        model = model or E5V_HUB_ID
        if torch.cuda.is_available() and weights_available(model):
            return E5VEmbedder(model, quant, device), f"e5v ({model}): a GPU and its weights are here"
        reason = "no GPU" if not torch.cuda.is_available() else f"no local weights for {model}"
        return LocalEmbedder(prompter), f"local (MiniLM + assessor features): {reason} for e5v"
    if encoder == "e5v":
        return E5VEmbedder(model or E5V_HUB_ID, quant, device), f"e5v ({model or E5V_HUB_ID}, quant {quant})"
    return LocalEmbedder(prompter, model), "local (MiniLM + assessor features), as asked"


__all__ = ["EMBEDDERS", "ENCODER_CHOICES", "E5VEmbedder", "EmbedderUnavailable", "LocalEmbedder", "create_embedder", "fingerprint_of"]
