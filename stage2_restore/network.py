"""OneRestore (ECCV 2024), re-implemented from the paper, with a static or a dynamic scene descriptor.

A 4-level encoder/decoder (width w, 2w, 4w, 8w; 1x1 convs between levels) of Scene-Descriptor-
guided Transformer Blocks: each block runs a cross-attention whose query is the scene descriptor
and whose keys and values are the image features, then Restormer's channel ("transposed")
self-attention, then Restormer's gated feed-forward, all pre-norm and residual.

The descriptor is a set of T tokens of 324 = 18x18 dimensions. In the cross-attention the keys
are resized to 18x18, so their 324 positions line up with the token's 324 dimensions, and the
query of channel c is token (c * T) // C. OneRestore has T = 1 (one text vector per degradation
class, the same query for every channel): that is `descriptor="static"`. `descriptor="dynamic"`
projects the cached stage-one embedding into T tokens, so channel groups ask different questions.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from shared.config import config_from_dict, save_config
from shared.contract import checkpoint_folder
from shared.degrade import CDD11_CATEGORIES, CLEAR
from shared.errors import ConfigError
from shared.fileio import atomic_path

SHIPPED_RESTORER = Path(__file__).parent / "weights" / "restorer"
STATIC_CLASSES = (CLEAR, *CDD11_CATEGORIES, "other")
"""OneRestore's 12 scene classes, plus one for combinations outside them (e.g. rain_snow)."""


@dataclass(frozen=True)
class RestorerConfig:
    """Architecture; saved as config.json beside the weights."""

    width: int = 32
    heads: int = 8
    ffn_expansion: float = 2.66
    descriptor: str = "dynamic"
    descriptor_dim: int = 324
    descriptor_tokens: int = 4
    embedding_dim: int = 512
    static_classes: tuple[str, ...] = field(default=STATIC_CLASSES)

    def __post_init__(self) -> None:
        if self.descriptor not in DESCRIPTORS:
            raise ConfigError(f"descriptor {self.descriptor!r}: choose one of {', '.join(DESCRIPTORS)}")
        if self.width % self.heads:
            raise ConfigError(f"width {self.width} must be a multiple of heads {self.heads}")
        if math.isqrt(self.descriptor_dim) ** 2 != self.descriptor_dim:
            raise ConfigError(f"descriptor_dim {self.descriptor_dim} must be a square (OneRestore: 324 = 18^2)")

    @property
    def tokens(self) -> int:
        return 1 if self.descriptor == "static" else self.descriptor_tokens


class LayerNorm2d(nn.Module):
    """LayerNorm over channels at every pixel, with bias (Restormer's WithBias_LayerNorm)."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def _heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, heads, C/heads, H*W)."""
    batch, channels = x.shape[:2]
    return x.reshape(batch, heads, channels // heads, -1)


class ChannelSelfAttention(nn.Module):
    """Restormer's MDTA: attention across channels (C/h x C/h), linear in the number of pixels."""

    def __init__(self, channels: int, heads: int):
        super().__init__()
        self.heads = heads
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.qkv = nn.Conv2d(channels, channels * 3, 1)
        self.qkv_depthwise = nn.Conv2d(channels * 3, channels * 3, 3, padding=1, groups=channels * 3)
        self.project = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv_depthwise(self.qkv(x)).chunk(3, dim=1)
        q, k = F.normalize(_heads(q, self.heads), dim=-1), F.normalize(_heads(k, self.heads), dim=-1)
        attention = (q @ k.transpose(-2, -1) * self.temperature).softmax(dim=-1)
        return self.project((attention @ _heads(v, self.heads)).reshape(x.shape))


class DescriptorCrossAttention(nn.Module):
    """OneRestore's scene-descriptor cross-attention: descriptor tokens query the image's channels."""

    def __init__(self, channels: int, heads: int, descriptor_dim: int, tokens: int):
        super().__init__()
        self.heads, self.tokens = heads, tokens
        self.side = math.isqrt(descriptor_dim)
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.query = nn.Linear(descriptor_dim, descriptor_dim)
        self.kv = nn.Conv2d(channels, channels * 2, 1)
        self.kv_depthwise = nn.Conv2d(channels * 2, channels * 2, 3, padding=1, groups=channels * 2)
        self.project = nn.Conv2d(channels, channels, 1)
        # Which token each channel's query comes from: contiguous channel groups, one per token.
        self.register_buffer("token_of_channel", torch.arange(channels) * tokens // channels, persistent=False)

    def forward(self, x: torch.Tensor, descriptor: torch.Tensor) -> torch.Tensor:
        batch, channels = x.shape[:2]
        k, v = self.kv_depthwise(self.kv(x)).chunk(2, dim=1)
        k = F.interpolate(k, size=(self.side, self.side), mode="bilinear", align_corners=False)
        k = F.normalize(_heads(k, self.heads), dim=-1)
        q = F.normalize(self.query(descriptor), dim=-1)[:, self.token_of_channel]  # (B, C, 324)
        q = q.reshape(batch, self.heads, channels // self.heads, -1)
        attention = (q @ k.transpose(-2, -1) * self.temperature).softmax(dim=-1)
        return self.project((attention @ _heads(v, self.heads)).reshape(x.shape))


class GatedFeedForward(nn.Module):
    """Restormer's GDFN: 1x1 expand, 3x3 depthwise, GELU gate, 1x1 back."""

    def __init__(self, channels: int, expansion: float):
        super().__init__()
        hidden = int(channels * expansion)
        self.expand = nn.Conv2d(channels, hidden * 2, 1)
        self.depthwise = nn.Conv2d(hidden * 2, hidden * 2, 3, padding=1, groups=hidden * 2)
        self.project = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, value = self.depthwise(self.expand(x)).chunk(2, dim=1)
        return self.project(F.gelu(gate) * value)


class SceneTransformerBlock(nn.Module):
    """OneRestore's SDTB: x += CrossAttn(LN x, d); x += SelfAttn(LN x); x += GDFN(LN x)."""

    def __init__(self, channels: int, config: RestorerConfig):
        super().__init__()
        self.norm_cross, self.norm_self, self.norm_ffn = LayerNorm2d(channels), LayerNorm2d(channels), LayerNorm2d(channels)
        self.cross = DescriptorCrossAttention(channels, config.heads, config.descriptor_dim, config.tokens)
        self.attention = ChannelSelfAttention(channels, config.heads)
        self.ffn = GatedFeedForward(channels, config.ffn_expansion)

    def forward(self, x: torch.Tensor, descriptor: torch.Tensor) -> torch.Tensor:
        x = x + self.cross(self.norm_cross(x), descriptor)
        x = x + self.attention(self.norm_self(x))
        return x + self.ffn(self.norm_ffn(x))


class Downsample(nn.Sequential):
    """MaxPool(3, stride 2, pad 1), then a 1x1 conv doubling the channels."""

    def __init__(self, channels: int):
        super().__init__(nn.MaxPool2d(3, stride=2, padding=1), nn.Conv2d(channels, channels * 2, 1))


class Upsample(nn.Module):
    """Bilinear resize to the skip's size, then a 1x1 conv halving the channels."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels // 2, 1)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False))


class StaticDescriptor(nn.Module):
    """One learned 324-d vector per scene class (OneRestore's scheme), picked by class index."""

    def __init__(self, config: RestorerConfig):
        super().__init__()
        self.table = nn.Embedding(len(config.static_classes), config.descriptor_dim)

    def forward(self, class_index: torch.Tensor) -> torch.Tensor:
        return self.table(class_index)[:, None, :]


class DynamicDescriptor(nn.Module):
    """The cached stage-one embedding (any dimension) projected into T descriptor tokens."""

    def __init__(self, config: RestorerConfig):
        super().__init__()
        self.tokens, self.dim = config.tokens, config.descriptor_dim
        self.project = nn.Sequential(nn.Linear(config.embedding_dim, 512), nn.GELU(), nn.Linear(512, config.tokens * config.descriptor_dim))

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        return self.project(embedding).reshape(embedding.shape[0], self.tokens, self.dim)


DESCRIPTORS = {"static": StaticDescriptor, "dynamic": DynamicDescriptor}


class Restorer(nn.Module):
    """OneRestore with its scene descriptor: degraded in [0,1] -> restored in [0,1] (unclamped)."""

    def __init__(self, config: RestorerConfig = RestorerConfig()):
        super().__init__()
        self.config = config
        w = config.width
        self.descriptor = DESCRIPTORS[config.descriptor](config)
        self.stem = nn.Conv2d(3, w, 1)
        self.encoders = nn.ModuleList(SceneTransformerBlock(w * 2**i, config) for i in range(4))
        self.downs = nn.ModuleList(Downsample(w * 2**i) for i in range(3))
        self.middle = nn.ModuleList(SceneTransformerBlock(w * 8, config) for _ in range(2))
        self.decoders = nn.ModuleList(SceneTransformerBlock(w * 2**i, config) for i in (3, 2, 1, 0))
        self.ups = nn.ModuleList(Upsample(w * 2**i) for i in (3, 2, 1))
        self.head = nn.Conv2d(w, 3, 1)

    def describe(self, embedding: torch.Tensor | None = None, class_index: torch.Tensor | None = None) -> torch.Tensor:
        """Descriptor tokens (B, T, 324) from an embedding (dynamic) or a class index (static)."""
        if self.config.descriptor == "static":
            if class_index is None:
                raise ValueError("a static restorer needs class_index")
            return self.descriptor(class_index)
        if embedding is None:
            raise ValueError("a dynamic restorer needs an embedding")
        return self.descriptor(embedding)

    def forward(self, degraded: torch.Tensor, embedding: torch.Tensor | None = None, class_index: torch.Tensor | None = None):
        descriptor = self.describe(embedding, class_index)
        x = degraded * 2.0 - 1.0
        features, skips = self.stem(x), []
        for level, encoder in enumerate(self.encoders):
            features = encoder(features, descriptor)
            skips.append(features)
            if level < 3:
                features = self.downs[level](features)
        for block in self.middle:
            features = block(features, descriptor)
        features = self.decoders[0](features + skips[3], descriptor)
        for up, decoder, skip in zip(self.ups, self.decoders[1:], reversed(skips[:3]), strict=True):
            features = decoder(up(features, skip) + skip, descriptor)
        # OneRestore adds the normalised input before de-normalising: restored = (head + x + 1) / 2.
        return (self.head(features) + x + 1.0) / 2.0

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> Restorer:
        """Load model.safetensors + config.json (a checkpoint folder, or a run folder holding checkpoint/)."""
        directory = checkpoint_folder(directory)
        weights, config_path = directory / "model.safetensors", directory / "config.json"
        if not weights.is_file() or not config_path.is_file():
            raise ConfigError(f"{directory}: not a restorer checkpoint (expected model.safetensors and config.json)")
        model = cls(config_from_dict(RestorerConfig, json.loads(config_path.read_text()), str(config_path)))
        state = {k: v.float() for k, v in load_file(weights).items()}
        model.load_state_dict(state)
        return model.eval()

    def save_pretrained(self, directory: str | Path, half: bool = False) -> Path:
        """Write model.safetensors (fp16 when `half`) and config.json into `directory`."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = {k: (v.half() if half else v).contiguous() for k, v in self.state_dict().items()}
        with atomic_path(directory / "model.safetensors") as tmp:
            save_file(state, str(tmp))
        save_config(self.config, directory / "config.json")
        return directory


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def macs_per_image(model: Restorer, size: int = 256) -> int:
    """Multiply-accumulates of one forward pass at size x size (torch's FLOP counter / 2)."""
    from torch.utils.flop_counter import FlopCounterMode

    image = torch.zeros(1, 3, size, size)
    embedding = torch.zeros(1, model.config.embedding_dim)
    class_index = torch.zeros(1, dtype=torch.long)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(image, embedding, class_index)
    return counter.get_total_flops() // 2
