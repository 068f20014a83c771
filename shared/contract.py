"""Everything stage one and stage two agree on, in one file.

- the label names the prompter predicts and the cache stores, and which CDD-11 class they make;
- how a degraded image is keyed in the cache, and the ids of a user's own photos;
- the failure record stage one leaves for an image it could not embed;
- the Fingerprint: what produced a cache's vectors, stored beside every cache and every checkpoint
  (a checkpoint's cache.json), which binds a checkpoint to the caches it can read;
- what a run folder and a checkpoint folder are, and how either is found;
- how stage two runs stage one for a checkpoint: `python -m stage1_embed.cli ...` as a subprocess,
  with the embedder, model and prompter the checkpoint's fingerprint names.

The HDF5 layout itself is shared/cache.py; this module holds no I/O beyond small JSON files.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np

from shared import __version__
from shared.config import config_from_dict
from shared.degrade import category_name
from shared.errors import CacheError, ConfigError, RestoreError
from shared.fileio import atomic_write_text

# Labels ------------------------------------------------------------------------------------------

LABELS = ("low", "haze", "rain", "snow", "noise", "blur")
"""What the pseudo-prompt generator predicts (presence and severity of each), in cache column order."""
WEATHER = ("low", "haze", "rain", "snow")
"""The labels that name CDD-11's classes; noise and blur are extras outside them."""
CAPTURE = tuple(label for label in LABELS if label not in WEATHER)
"""Degradations of the camera (noise, blur), outside CDD-11's classes."""


def category_of(presence: Iterable) -> str:
    """CDD-11-style class of the weather labels present ('clear' if none), e.g. 'low_haze_rain'; may be outside the 12."""
    return category_name(label for label, on in zip(LABELS, presence, strict=True) if on and label in WEATHER)


def captures_in(presence: Iterable) -> list[str]:
    """The camera labels (CAPTURE) that `presence` marks, in label order."""
    return [label for label, on in zip(LABELS, presence, strict=True) if on and label in CAPTURE]


# Cache keys and photo ids ------------------------------------------------------------------------


def decision_confidence(presence: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Probability that each label decision (present or absent) is right, from its presence probability."""
    return np.where(np.asarray(presence).astype(bool), probabilities, 1.0 - probabilities).astype(np.float32)


def cache_key(image_id: str, category: str, variant: int = 0) -> str:
    """The id of a degraded image in the cache (a split's first variant keeps the plain "image_id/category")."""
    return f"{image_id}/{category}" + (f"/v{variant}" if variant else "")


PHOTO_CATEGORY = "photo"
"""The category of a user's own photo (no ground truth; its degradations are unknown until assessed)."""


def photo_image_id(index: int) -> str:
    """The image id of the index-th photo handed to `restore-embed photos` (how `restore` finds its vector)."""
    return f"{index:06d}"


@dataclass(frozen=True)
class Failure:
    """An image stage one could not embed: its cache key and one line saying why."""

    id: str
    error: str

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Failure:
        return cls(str(data["id"]), str(data["error"]))


# The fingerprint: what made a cache's vectors ----------------------------------------------------

SCHEMA_VERSION = 1
SHIPPED_PROMPTER = "shipped"
"""prompter_locator of the prompter inside the package (shared/weights/assessor), wherever it is installed."""


@dataclass(frozen=True)
class Fingerprint:
    """Everything that determines the vectors: a cache is reused only when all of it matches.

    The two locators say where stage one found the model and the prompter, so stage two can run
    stage one again for a checkpoint. They are not part of the identity (`id`, `==`): the same
    weights in another folder make the same vectors, and the revision and hash already pin them.
    """

    embedder: str
    weights_revision: str
    prompt_template: str
    prompter_hash: str
    dim: int
    dtype: str = "float16"
    code_version: str = f"{__version__}+schema{SCHEMA_VERSION}"
    model_locator: str = field(default="", compare=False)
    """`--model` of stage one: a folder or a hub id; "" = the embedder's default."""
    prompter_locator: str = field(default="", compare=False)
    """`--prompter` of stage one: a folder, or SHIPPED_PROMPTER / "" for the shipped one."""

    def identity(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.compare}

    @property
    def id(self) -> str:
        """12 hex digits of the SHA-256 of the canonical JSON of the identity fields."""
        return hashlib.sha256(json.dumps(self.identity(), sort_keys=True).encode()).hexdigest()[:12]

    @property
    def directory_name(self) -> str:
        return f"{self.embedder}-{self.id}"

    def differences(self, other: Fingerprint) -> list[str]:
        """Human-readable identity fields that differ, e.g. "embedder: local != e5v"."""
        mine, theirs = self.identity(), other.identity()
        return [f"{k}: {_differing_part(str(mine[k]), str(theirs[k]))}" for k in mine if mine[k] != theirs[k]]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str) -> Fingerprint:
        try:
            return config_from_dict(cls, json.loads(text), source)
        except json.JSONDecodeError as exc:
            raise CacheError(f"{source}: fingerprint is not valid JSON ({exc.msg}); rebuild the cache") from None


def _differing_part(mine: str, theirs: str, width: int = 60) -> str:
    """'a != b' cut to `width` characters each, starting where the two first differ."""
    start = len(os.path.commonprefix([mine, theirs]))
    start = max(0, start - 10) if start > width - 10 else 0
    prefix = "..." if start else ""
    return f"{prefix}{mine[start : start + width]} != {prefix}{theirs[start : start + width]}"


def cache_folder(cache_dir: str | Path, split_slug: str, fingerprint: Fingerprint) -> Path:
    """Where a split's vectors of one fingerprint live: CACHE_DIR/<split>/<embedder>-<id>/."""
    return Path(cache_dir) / split_slug / fingerprint.directory_name


TRUE_PROMPTS = " || prompts worded from each pair's true labels"
"""Marks vectors whose prompts were worded from the ground truth instead of the prompter's guess."""


def true_prompt_fingerprint(fingerprint: Fingerprint) -> Fingerprint:
    """The same models' vectors with every prompt worded from the pair's true labels: an oracle that
    measures what the prompter's mistakes cost the restorer. Its own cache folder, never trained on."""
    if fingerprint.prompt_template.endswith(TRUE_PROMPTS):
        return fingerprint
    return replace(fingerprint, prompt_template=fingerprint.prompt_template + TRUE_PROMPTS)


# Run folders and checkpoint folders --------------------------------------------------------------

RUNS_DIR = Path("runs")
"""Where training writes run folders by default (relative to the working directory)."""
CHECKPOINT_DIR = "checkpoint"
RUN_CONFIG_FILE = "train_config.json"
BINDING_FILE = "cache.json"
"""The fingerprint of the vectors a checkpoint was trained on, beside its weights."""


def checkpoint_folder(path: str | Path) -> Path:
    """The checkpoint folder of a run folder (RUN/checkpoint/) or of a checkpoint folder itself.

    A run folder is one holding checkpoint/ (or train_config.json); a checkpoint folder holds
    config.json beside its weights. Anything else raises ConfigError naming what was expected.
    """
    path = Path(path)
    if not path.is_dir():
        raise ConfigError(f"{path}: no such folder; give a run folder (runs/NAME) or a checkpoint folder")
    if (path / CHECKPOINT_DIR).is_dir() or (path / RUN_CONFIG_FILE).is_file():
        if not (path / CHECKPOINT_DIR).is_dir():
            raise ConfigError(f"{path}: this run has no checkpoint yet; train it (restore-train run --out {path})")
        return path / CHECKPOINT_DIR
    if (path / "config.json").is_file():
        return path
    raise ConfigError(f"{path}: not a run or checkpoint folder (expected {CHECKPOINT_DIR}/, or model.safetensors and config.json)")


def checkpoint_name(path: str | Path) -> str:
    """A short name for reports: the run's folder name, or the checkpoint folder's."""
    folder = checkpoint_folder(path)
    return folder.parent.name if folder.name == CHECKPOINT_DIR else folder.name


def read_binding(path: str | Path) -> Fingerprint:
    """The fingerprint a run or checkpoint was trained on (its cache.json)."""
    binding = checkpoint_folder(path) / BINDING_FILE
    if not binding.is_file():
        raise CacheError(f"{path}: no {BINDING_FILE}, so the embedder it was trained with is unknown; export it with restore-train export")
    return Fingerprint.from_json(binding.read_text(), str(binding))


def write_binding(folder: str | Path, fingerprint: Fingerprint) -> Path:
    path = Path(folder) / BINDING_FILE
    atomic_write_text(path, fingerprint.to_json())
    return path


def newest_run(runs_dir: str | Path = RUNS_DIR) -> Path | None:
    """The run folder under `runs_dir` whose checkpoint was written last, or None."""
    bindings = Path(runs_dir).glob(f"*/{CHECKPOINT_DIR}/{BINDING_FILE}")
    newest = max(bindings, key=lambda p: p.stat().st_mtime_ns, default=None)
    return newest.parent.parent if newest else None


# Running stage one for a checkpoint --------------------------------------------------------------

STAGE_ONE = ("-m", "stage1_embed.cli")
"""Stage two runs stage one only as this subprocess, never by import."""


def stage_one_options(fingerprint: Fingerprint, source: str = "checkpoint") -> list[str]:
    """`--encoder/--model/--prompter` that make stage one write vectors of `fingerprint`.

    `source` names where the fingerprint came from, for the one-line errors.
    """
    options = ["--encoder", fingerprint.embedder]
    model = fingerprint.model_locator
    if not model and fingerprint.embedder == "e5v":
        # Bindings written before the locator existed: a hub revision reads "<hub id>@<snapshot>";
        # a folder-loaded one ("local:<digest>") does not say where the folder was.
        if fingerprint.weights_revision.startswith("local:"):
            raise ConfigError(
                f"{source}: its e5v weights were loaded from a folder it does not name; "
                f'add "model_locator": "/path/to/e5v" to its {BINDING_FILE}'
            )
        model = fingerprint.weights_revision.split("@")[0]
    if model:
        options += ["--model", model]
    prompter = fingerprint.prompter_locator
    if prompter and prompter != SHIPPED_PROMPTER:
        if not Path(prompter).is_dir():
            raise ConfigError(
                f"{source}: trained with the prompter in {prompter} (hash {fingerprint.prompter_hash}), which is not on this machine; "
                f"copy it there or point prompter_locator in its {BINDING_FILE} at it"
            )
        options += ["--prompter", prompter]
    return options


def stage_one_command(fingerprint: Fingerprint, command: str, arguments: Sequence[str], source: str = "checkpoint") -> list[str]:
    """The argv of `restore-embed COMMAND ARGUMENTS` with the models of `fingerprint`."""
    return [sys.executable, *STAGE_ONE, command, *arguments, *stage_one_options(fingerprint, source)]


def run_stage_one(fingerprint: Fingerprint, command: str, arguments: Sequence[str], source: str = "checkpoint") -> None:
    """Run stage one as a subprocess; its one-line error becomes a RestoreError."""
    argv = stage_one_command(fingerprint, command, arguments, source)
    env = {**os.environ, "COLUMNS": "200", "TERM": "dumb"}
    finished = subprocess.run(argv, capture_output=True, text=True, env=env)
    if finished.returncode != 0:
        lines = [line for line in finished.stderr.splitlines() if line.strip()]
        message = lines[-1].removeprefix("error: ") if lines else f"exit code {finished.returncode}"
        raise RestoreError(f"stage one (restore-embed {command}) failed: {message}")
