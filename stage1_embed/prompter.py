"""The pseudo-prompt generator: the shared degradation assessor plus the prompt template."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from shared.assessor import SHIPPED_ASSESSOR, AssessorNet, load_assessor, save_assessor, stack_views, weights_hash
from shared.contract import SHIPPED_PROMPTER, captures_in, decision_confidence
from stage1_embed.labels import category_of, prompt_of


@dataclass(frozen=True)
class Assessment:
    """What the generator says of a batch: calibrated presence probabilities, severities, prompts, features."""

    probabilities: np.ndarray
    presence: np.ndarray
    severity: np.ndarray
    features: np.ndarray
    prompts: list[str]

    @property
    def categories(self) -> list[str]:
        return [category_of(p) for p in self.presence]


class PromptGenerator:
    """The trained assessor plus the prompt template: images in, pseudo-prompts out."""

    def __init__(self, net: AssessorNet, weights_hash: str = "untrained", locator: str = ""):
        self.net = net.eval()
        self.config = net.config
        self.weights_hash = weights_hash
        self.locator = locator
        """Where these weights live, for the cache fingerprint: SHIPPED_PROMPTER, a folder, or "" (never saved)."""

    @classmethod
    def from_pretrained(cls, directory: str | Path = SHIPPED_ASSESSOR) -> PromptGenerator:
        """Load an assessor folder (default: the shipped one)."""
        return cls(load_assessor(directory), weights_hash(directory), _locator(directory))

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write model.safetensors + config.json atomically."""
        self.weights_hash = save_assessor(self.net, directory)
        self.locator = _locator(directory)
        return Path(directory)

    @torch.no_grad()
    def assess(self, images: list[np.ndarray]) -> Assessment:
        """Assess a batch of HxWx3 float images (any sizes)."""
        logits, severity, features = self.net(*stack_views(images, self.config.view_size, self.config.crops))
        probabilities = self.net.probabilities(logits).numpy()
        presence = probabilities >= self.config.threshold
        severity = severity.numpy()
        prompts = [prompt_of(p, s) for p, s in zip(presence, severity, strict=True)]
        return Assessment(probabilities, presence, severity, features.numpy(), prompts)


def _locator(directory: str | Path) -> str:
    """SHIPPED_PROMPTER for the packaged weights (valid wherever the package is installed), else the absolute folder."""
    folder = Path(directory).expanduser().resolve()
    return SHIPPED_PROMPTER if folder == SHIPPED_ASSESSOR.resolve() else str(folder)


@dataclass(frozen=True)
class PhotoAssessment:
    """What the generator says of one photo file (error set when it could not be read)."""

    path: Path
    prompt: str = ""
    category: str = ""
    confidence: float = 0.0
    """Probability that its least certain label decision is right."""
    probabilities: tuple[float, ...] = ()
    error: str = ""


def assess_files(generator: PromptGenerator, paths: list[Path], on_progress=None) -> list[PhotoAssessment]:
    """Assess photo files one by one (any sizes); unreadable files are reported, not raised."""
    from shared.errors import ImageReadError
    from shared.image_io import load_image

    results = []
    for index, path in enumerate(paths):
        try:
            image = load_image(path).rgb
        except ImageReadError as exc:
            results.append(PhotoAssessment(Path(path), error=str(exc)))
        else:
            found = generator.assess([image])
            probabilities = found.probabilities[0]
            confidence = float(decision_confidence(found.presence[0], probabilities).min())
            named = "+".join([found.categories[0], *captures_in(found.presence[0])])
            results.append(PhotoAssessment(Path(path), found.prompts[0], named, confidence, tuple(float(p) for p in probabilities)))
        if on_progress:
            on_progress(index + 1, len(paths))
    return results
