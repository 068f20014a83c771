"""Build a tiny random LLaVA-NeXT checkpoint offline, in E5-V's folder layout (for tests and benchmarks of the E5-V path).

Tokenizer: a word-level vocabulary with `<image>` as a special token (no download). Vision
tower and Llama are 2 layers of width 64 (bitsandbytes' CPU 4-bit kernels need widths that are
multiples of its 64-element blocks).
"""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import (
    CLIPVisionConfig,
    LlamaConfig,
    LlavaNextConfig,
    LlavaNextForConditionalGeneration,
    LlavaNextImageProcessorPil,
    LlavaNextProcessor,
    PreTrainedTokenizerFast,
)

WORDS = ["[UNK]", "[PAD]", "<image>", "Summary", "above", "image", "in", "one", "word:", "a", "photo", "clear",
         "taken", "low", "light,", "with", "haze", "rain", "snow", "and", "noise", "blur", "dense", "heavy"]  # fmt: skip
PINPOINTS = [[336, 336], [336, 672], [672, 336]]


def build_tiny_llava(directory: Path, seed: int = 0) -> Path:
    """Save a tiny random LLaVA-NeXT (model + processor) to `directory` and return it."""
    vocabulary = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="[UNK]"))
    vocabulary.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=vocabulary, unk_token="[UNK]", pad_token="[PAD]")
    tokenizer.add_special_tokens({"additional_special_tokens": ["<image>"]})
    config = LlavaNextConfig(
        vision_config=CLIPVisionConfig(
            hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2, image_size=336, patch_size=14
        ),
        text_config=LlamaConfig(
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=4,
            vocab_size=len(tokenizer),
        ),
        image_token_index=32000,  # wrong on purpose, like E5-V's hub config: the embedder must fix it
        image_grid_pinpoints=PINPOINTS,
    )
    torch.manual_seed(seed)
    LlavaNextForConditionalGeneration(config).save_pretrained(directory)
    image_processor = LlavaNextImageProcessorPil(
        size={"shortest_edge": 336}, crop_size={"height": 336, "width": 336}, image_grid_pinpoints=PINPOINTS
    )
    LlavaNextProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(directory)
    return directory
