"""Train a restorer from a split's pairs and its embedding cache (never runs an embedder).

Run folder:
    train_config.json      the TrainConfig this run was started with (resume must match it)
    checkpoint/            the latest checkpoint, replaced atomically every `checkpoint_every` steps
        model.safetensors  EMA weights: what evaluation and `restore` use
        config.json        RestorerConfig (Restorer.from_pretrained reads these two)
        cache.json         fingerprint of the embedding cache it was trained on
        training/          raw weights, EMA state, optimizer state, step (for --resume)
    log.csv, loss.png      one row per step; the curve

Batches depend only on (seed, step, rank) and the learning rate only on the step, so a resumed
run continues bit for bit. Under torchrun the same entry point runs DistributedDataParallel
(NCCL on GPUs, gloo on CPUs); rank 0 writes, everyone else waits at a barrier.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from safetensors.torch import load_file, save_file
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from shared.assessor import SHIPPED_ASSESSOR, load_assessor, same_features, weights_hash
from shared.cache import EmbeddingCache, read_fingerprint
from shared.config import config_from_dict, config_to_dict, load_config, save_config
from shared.contract import (
    BINDING_FILE,
    CHECKPOINT_DIR,
    LABELS,
    RUN_CONFIG_FILE,
    RUNS_DIR,
    SHIPPED_PROMPTER,
    TRUE_PROMPTS,
    Fingerprint,
    checkpoint_folder,
    read_binding,
    stage_one_options,
    write_binding,
)
from shared.errors import ConfigError, RestoreError
from shared.fileio import atomic_path, atomic_write_text, refuse_foreign_folder
from shared.pairs import pairs_dir, read_pairs
from shared.splits import resolve_split
from stage2_restore.data import TrainingPairs
from stage2_restore.losses import LossConfig, RestorationLoss
from stage2_restore.network import Restorer, RestorerConfig


class TrainingDiverged(RestoreError):
    """The loss became NaN or infinite."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything a run depends on; saved as train_config.json; CLI flags override fields."""

    split: str = "lsdir-train"
    data_root: str | None = None
    cache_dir: str = "cache"
    cache: str = ""
    """Cache folder under cache_dir/<split>/ (e.g. local-1a2b3c4d5e6f); "" = the only one there."""
    extra_splits: tuple[str, ...] = ()
    """More splits trained on alongside (e.g. closeup:PATH), rows drawn alike; each read from its cache that has the
    main cache's fingerprint (the same embedder and prompter)."""
    crop: int = 128
    batch_size: int = 8
    steps: int = 2000
    lr: float = 3e-4
    min_lr: float = 1e-6
    warmup_steps: int = 100
    weight_decay: float = 1e-4
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    seed: int = 0
    checkpoint_every: int = 250
    negatives: int = 2
    clear_fraction: float = 0.0
    """Share of every batch drawn from clear (identity) pairs; 0 samples all rows alike."""
    extra_fractions: tuple[float, ...] = ()
    """Share of every batch drawn from each extra split's degraded pairs, in `extra_splits` order; () draws their rows
    like the others. A small split of a rare degradation otherwise comes up only in proportion to its size."""
    misdirected_fraction: float = 0.0
    """Share of every batch drawn from clear pairs guided by the vector of a degraded version of the same photo, so the
    restorer learns that a wrong prompt (a clean photo called "low light") must not change a clean photo."""
    overcalled_fraction: float = 0.0
    """Share of every batch drawn from degraded pairs guided by the vector of a worse version of the same photo (noise
    guided by low_noise's), so a photo called worse than it is (grain called "low light") loses only what it has."""
    focus_label: str = ""
    """A label (low, haze, rain, snow, noise, blur) whose degraded pairs, from every split, get `focus_fraction`."""
    focus_fraction: float = 0.0
    """Share of every batch drawn from degraded pairs whose category has `focus_label`: a skill a leg lost is weighted back up."""
    init_from: str = ""
    """A checkpoint whose weights start this run (fine-tuning); "" = random init."""
    loss: LossConfig = field(default_factory=LossConfig)
    restorer: RestorerConfig = field(default_factory=RestorerConfig)

    def __post_init__(self) -> None:
        if not 0.0 <= self.clear_fraction <= 1.0:
            raise ConfigError(f"clear_fraction {self.clear_fraction}: must be between 0 and 1")
        if self.extra_fractions and len(self.extra_fractions) != len(self.extra_splits):
            counts = f"{len(self.extra_fractions)} extra fraction(s) for {len(self.extra_splits)} extra split(s)"
            raise ConfigError(f"{counts}; give one per --extra-split, in order")
        if (self.focus_label or self.focus_fraction) and self.focus_label not in LABELS:
            raise ConfigError(f"focus_label {self.focus_label!r}: unknown; choose one of {', '.join(LABELS)}")
        shares = (self.clear_fraction, self.misdirected_fraction, self.overcalled_fraction, self.focus_fraction, *self.extra_fractions)
        if any(f < 0 for f in shares) or sum(shares) > 1.0:
            given = (f"clear_fraction {self.clear_fraction}, misdirected_fraction {self.misdirected_fraction}, "
                     f"overcalled_fraction {self.overcalled_fraction}, focus_fraction {self.focus_fraction} "
                     f"and extra_fractions {list(self.extra_fractions)}")  # fmt: skip
            raise ConfigError(f"{given}: each at least 0, together at most 1")

    def with_overrides(self, **overrides) -> TrainConfig:
        """This config with the given flags applied; None means "not given".

        Flags are flat (what `restore-train run` takes): the TrainConfig fields above, plus
        `descriptor` and `width` (RestorerConfig) and `contrastive` (LossConfig.contrastive_features).
        """
        nested = {"descriptor": "restorer", "width": "restorer", "contrastive": "loss"}
        given = {k: v for k, v in overrides.items() if v is not None}
        top = {f.name for f in dataclasses.fields(self)} - {"loss", "restorer"}
        unknown = sorted(set(given) - top - set(nested))
        if unknown:
            raise ConfigError(f"unknown training option(s) {', '.join(unknown)}; known: {', '.join(sorted(top | set(nested)))}")
        restorer = {k: given.pop(k) for k in ("descriptor", "width") if k in given}
        loss = {"contrastive_features": given.pop("contrastive")} if "contrastive" in given else {}
        return dataclasses.replace(
            self, **given, restorer=dataclasses.replace(self.restorer, **restorer), loss=dataclasses.replace(self.loss, **loss)
        )


def default_run_dir(config: TrainConfig) -> Path:
    """runs/<split>-<descriptor>[+<kind of each extra split>], e.g. runs/lsdir-train-dynamic+closeup.

    The extra splits are in the name so that a run with them never lands in (and is refused by) one without.
    """
    extras = "".join(f"+{extra.split(':')[0]}" for extra in config.extra_splits)
    return RUNS_DIR / f"{config.split.replace(':', '-').replace('/', '-')}-{config.restorer.descriptor}{extras}"


def plan_run(
    overrides: dict, config_file: str | Path | None = None, out: str | Path | None = None, resume: bool = False
) -> tuple[TrainConfig, Path]:
    """(config, run folder) of `restore-train run`: defaults or --config, then the flags.

    The run folder is --out, else default_run_dir of that config. A resumed run starts from its
    saved config instead (flags still apply; train() refuses changes other than the step counts).
    Fine-tuning (--init-from) keeps the starting checkpoint's architecture unless a flag changes it.
    """
    base = load_config(TrainConfig, config_file) if config_file else TrainConfig()
    config = base.with_overrides(**overrides)
    run = Path(out) if out else default_run_dir(config)
    saved = run / RUN_CONFIG_FILE
    if resume and not config_file and saved.is_file():
        config = load_config(TrainConfig, saved).with_overrides(**overrides)
    elif config.init_from and not config_file and not resume:
        start = Restorer.from_pretrained(config.init_from).config
        config = dataclasses.replace(base, restorer=start).with_overrides(**overrides)
    return config, run


@dataclass(frozen=True)
class TrainResult:
    """Where the checkpoint went, the trained (raw, not EMA) model of this process, and the images it had to skip."""

    checkpoint: Path
    model: Restorer
    unreadable: dict[str, str] = field(default_factory=dict)
    """Path -> why it could not be read, since the run began (before a resume too); its rows were replaced by others."""


@dataclass(frozen=True)
class StepLog:
    step: int
    loss: float
    parts: dict
    lr: float
    seconds: float
    data_seconds: float


def lr_at(step: int, config: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to min_lr at the last step."""
    if step <= config.warmup_steps:
        return config.lr * step / max(1, config.warmup_steps)
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    return config.min_lr + 0.5 * (config.lr - config.min_lr) * (1 + math.cos(math.pi * min(1.0, progress)))


def _is_oracle(cache: Path) -> bool:
    """Vectors of restore-eval --true-prompts: made for scoring, never trained on."""
    return read_fingerprint(cache).prompt_template.endswith(TRUE_PROMPTS)


def find_cache(config: TrainConfig) -> Path:
    """The cache folder of the config's split: named, or the only one present."""
    split = resolve_split(config.split, config.data_root)
    folder = Path(config.cache_dir) / split.slug
    build = _build_command(config.split, config)
    if config.cache:
        if not (folder / config.cache).is_dir():
            raise ConfigError(f"{folder / config.cache}: no such cache; run `{build}`")
        return folder / config.cache
    caches = sorted(p for p in folder.glob("*-*") if (p / "fingerprint.json").is_file() and not _is_oracle(p))
    if not caches:
        raise ConfigError(f"{folder}: {config.split} has no embeddings yet; run `{build}` first (or train another split with --split)")
    if len(caches) > 1:
        raise ConfigError(f"{folder}: {len(caches)} embedding caches ({', '.join(p.name for p in caches)}); pick one with --cache NAME")
    return caches[0]


def matching_cache(split_name: str, config: TrainConfig, fingerprint: Fingerprint) -> Path:
    """The cache folder of `split_name` whose vectors were made like `fingerprint`'s (an extra split's)."""
    folder = Path(config.cache_dir) / resolve_split(split_name, config.data_root).slug
    if (folder / fingerprint.directory_name / "fingerprint.json").is_file():
        return folder / fingerprint.directory_name
    build = _build_command(split_name, config, fingerprint)
    raise ConfigError(
        f"{folder}: {split_name} has no embeddings made like the main split's ({fingerprint.embedder}, prompter "
        f"{fingerprint.prompter_hash}); run `{build}`"
    )


def _build_command(split_name: str, config: TrainConfig, fingerprint: Fingerprint | None = None) -> str:
    """The `restore-embed build` line that writes `split_name`'s vectors where this run looks for them (with the
    embedder and prompter of `fingerprint` when given)."""
    options = stage_one_options(fingerprint, f"the cache of {config.split}") if fingerprint else []
    return " ".join(["restore-embed build --split", split_name, *(["--data-root", config.data_root] if config.data_root else []),
                     *(["--cache-dir", config.cache_dir] if config.cache_dir != "cache" else []), *options])  # fmt: skip


def _distributed() -> tuple[int, int, torch.device]:
    """(rank, world size, device); starts the process group under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = torch.cuda.is_available()
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    rank = dist.get_rank() if world > 1 else 0
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if cuda:
        torch.cuda.set_device(local)
    return rank, world, torch.device(f"cuda:{local}" if cuda else "cpu")


def _barrier(world: int) -> None:
    if world > 1:
        dist.barrier()


def save_checkpoint(
    run: Path, model: Restorer, ema: AveragedModel, optimizer, step: int, fingerprint: Fingerprint, skipped: dict[str, str] | None = None
) -> Path:
    """Build the checkpoint in a temp folder, then swap it in: a kill leaves the old one or the new one. `skipped` (the
    images skipped so far, path -> why) is kept with the step, so a resumed run still lists those it does not meet again."""
    final, tmp, old = run / CHECKPOINT_DIR, run / f".checkpoint.tmp-{os.getpid()}", run / f".checkpoint.old-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    ema.module.save_pretrained(tmp)
    write_binding(tmp, fingerprint)
    training = tmp / "training"
    training.mkdir()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(training / "weights.safetensors"))
    save_file({k: v.contiguous() for k, v in ema.state_dict().items()}, str(training / "ema.safetensors"))
    torch.save(optimizer.state_dict(), training / "optimizer.pt")
    atomic_write_text(training / "state.json", json.dumps({"step": step, "skipped": skipped or {}}) + "\n")
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)
    return final


def checkpoint_step(run: Path) -> int | None:
    """Step of the run's checkpoint (recovering one caught mid-swap), or None."""
    final = run / CHECKPOINT_DIR
    if not final.exists():
        for old in run.glob(".checkpoint.old-*"):
            os.replace(old, final)
            break
    return _training_state(run).get("step")


def checkpoint_skipped(run: Path) -> dict[str, str]:
    """The images the run had skipped by its checkpoint (path -> why); empty for a checkpoint that kept none."""
    return _training_state(run).get("skipped", {})


def _training_state(run: Path) -> dict:
    state = run / CHECKPOINT_DIR / "training" / "state.json"
    return json.loads(state.read_text()) if state.is_file() else {}


def _prepare_run(run: Path, config: TrainConfig, resume: bool) -> None:
    saved = run / RUN_CONFIG_FILE
    step = checkpoint_step(run) if run.exists() else None
    if step is not None and not resume:
        raise ConfigError(f"{run} has a checkpoint at step {step}; pass --resume to continue it, or choose another --out")
    if resume and saved.is_file():
        previous = config_from_dict(TrainConfig, json.loads(saved.read_text()), str(saved))
        if dataclasses.replace(previous, steps=config.steps, checkpoint_every=config.checkpoint_every) != config:
            raise ConfigError(
                f"{saved}: this run was started with another config; "
                "resume with the same settings (only --steps and --checkpoint-every may change)"
            )
    run.mkdir(parents=True, exist_ok=True)
    save_config(config, saved)


def train(
    config: TrainConfig,
    run: str | Path,
    resume: bool = False,
    on_step: Callable[[StepLog], None] | None = None,
) -> TrainResult:
    """Train (or resume) a restorer into `run`."""
    run = Path(run)
    rank, world, device = _distributed()
    cache_folder = find_cache(config)
    fingerprint = read_fingerprint(cache_folder)
    config = dataclasses.replace(
        config, cache=cache_folder.name, restorer=dataclasses.replace(config.restorer, embedding_dim=fingerprint.dim)
    )
    if rank == 0:
        _prepare_run(run, config, resume)
    _barrier(world)

    sources = []
    for split_name, folder in [(config.split, cache_folder)] + [(s, matching_cache(s, config, fingerprint)) for s in config.extra_splits]:
        rows = read_pairs(pairs_dir(config.cache_dir, resolve_split(split_name, config.data_root)))
        cache = EmbeddingCache(folder, expected=fingerprint)
        if not any(row.key in cache for row in rows):
            build = _build_command(split_name, config, fingerprint)
            raise ConfigError(f"{folder}: none of {split_name}'s pairs has a cached vector; rebuild the cache: `{build}`")
        sources.append((rows, cache))
    data = TrainingPairs(sources, config.restorer.static_classes, config.negatives, config.clear_fraction, config.extra_fractions,
                         config.misdirected_fraction, (config.focus_label, config.focus_fraction), config.overcalled_fraction)  # fmt: skip

    torch.manual_seed(config.seed)
    model = Restorer(config.restorer)
    if config.init_from:
        start = Restorer.from_pretrained(config.init_from)
        if start.config != model.config:
            raise ConfigError(f"{config.init_from}: its architecture differs from this run's; match --width/--descriptor")
        model.load_state_dict(start.state_dict())
    model.to(device)
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay), use_buffers=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    criterion = RestorationLoss(config.loss).to(device)

    start_step = (checkpoint_step(run) or 0) if resume else 0
    skipped_before = checkpoint_skipped(run) if start_step else {}
    if start_step:
        training = run / CHECKPOINT_DIR / "training"
        model.load_state_dict(load_file(training / "weights.safetensors"))
        ema.load_state_dict(load_file(training / "ema.safetensors"))
        optimizer.load_state_dict(torch.load(training / "optimizer.pt", weights_only=True))
    # Depthwise conv weights (C, 1, 3, 3) make DDP warn about the stride of their size-1 dimension;
    # the memory layout is the same, so the warning is noise.
    warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
    trained = DistributedDataParallel(model) if world > 1 else model

    log_path = run / "log.csv"
    if rank == 0 and start_step == 0:
        log_path.write_text("step,loss,pixel,ms_ssim,contrastive,lr,seconds,data_seconds\n")
    elif rank == 0 and log_path.is_file():  # steps logged after the checkpoint are done again: keep one row each
        header, *rows = log_path.read_text().splitlines()
        atomic_write_text(log_path, "\n".join([header] + [r for r in rows if int(r.split(",")[0]) <= start_step]) + "\n")
    last_good = start_step
    for step in range(start_step + 1, config.steps + 1):
        began = time.perf_counter()
        lr = lr_at(step, config)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = data.batch(np.random.default_rng([config.seed, step, rank]), config.batch_size, config.crop)
        batch = {k: v.to(device) for k, v in batch.items()}
        data_seconds = time.perf_counter() - began

        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            restored = trained(batch["degraded"], batch["embedding"], batch["class_index"])
            loss, parts = criterion(restored.float(), batch["clean"], batch["degraded"], batch.get("negatives"))
        if not torch.isfinite(loss):
            raise TrainingDiverged(
                f"loss is {loss.item()} at step {step}; stopped, the last good checkpoint "
                f"({run / 'checkpoint'}, step {last_good}) is kept; go on from it with a lower --lr: --init-from {run} --out NEW_RUN"
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        ema.update_parameters(model)

        log = StepLog(step, loss.item(), parts, lr, time.perf_counter() - began, data_seconds)
        if rank == 0:
            with open(log_path, "a") as handle:
                terms = [f"{parts.get(k, float('nan')):.6f}" for k in ("pixel", "ms_ssim", "contrastive")]
                csv.writer(handle).writerow([step, f"{log.loss:.6f}", *terms, f"{lr:.3e}", f"{log.seconds:.4f}", f"{data_seconds:.4f}"])
            if on_step:
                on_step(log)
        if step % config.checkpoint_every == 0 or step == config.steps:
            if rank == 0:
                save_checkpoint(run, model, ema, optimizer, step, fingerprint, {**skipped_before, **data.unreadable})
            last_good = step
            _barrier(world)
    if rank == 0:
        plot_log(log_path)
    _barrier(world)
    return TrainResult(run / CHECKPOINT_DIR, model, {**skipped_before, **data.unreadable})


def plot_log(log_path: Path) -> Path:
    """loss.png beside log.csv: the total loss and a moving average."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(log_path) as handle:
        rows = list(csv.DictReader(handle))
    steps = np.array([int(r["step"]) for r in rows])
    losses = np.array([float(r["loss"]) for r in rows])
    figure, axis = plt.subplots(figsize=(6, 3.5))
    axis.plot(steps, losses, color="tab:blue", alpha=0.35, label="loss")
    if len(losses) >= 20:
        window = max(5, len(losses) // 50)
        smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
        axis.plot(steps[window - 1 :], smooth, color="tab:blue", label=f"mean of {window}")
    axis.set_xlabel("step")
    axis.set_ylabel("training loss")
    axis.legend()
    figure.tight_layout()
    output = log_path.with_name("loss.png")
    with atomic_path(output) as tmp:
        figure.savefig(tmp, dpi=100, format="png")
    plt.close(figure)
    return output


def describe_run(run: str | Path) -> dict:
    """Config, checkpoint step and cache fingerprint of a run folder (for `restore-train show`)."""
    run = Path(run)
    saved = run / RUN_CONFIG_FILE
    if not saved.is_file():
        raise ConfigError(f"{run}: not a training run (no train_config.json)")
    info = {
        "config": config_to_dict(config_from_dict(TrainConfig, json.loads(saved.read_text()), str(saved))),
        "step": checkpoint_step(run),
    }
    cache_json = run / CHECKPOINT_DIR / BINDING_FILE
    if cache_json.is_file():
        info["cache"] = json.loads(cache_json.read_text())
    return info


EXPORTED_FILES = frozenset({"model.safetensors", "config.json", BINDING_FILE})


def export_checkpoint(run: str | Path, out: str | Path, half: bool = True, prompter: str | Path | None = None) -> Path:
    """The shippable form of a run: EMA weights (fp16 by default), config.json and cache.json, nothing else.

    A run trained on the shipped prompter gets "shipped" as the prompter's locator, whatever folder it was read from.
    `prompter` binds the export to another prompter instead, one computing the same image feature as the prompter the
    run was trained with (`train-prompter --heads-only`): its vectors differ only in their words.

    `out` may be new, empty, or an earlier export (only EXPORTED_FILES); a folder holding
    anything else is refused, since replacing it would delete files export never wrote.
    """
    run, out = Path(run), Path(out)
    folder = checkpoint_folder(run)
    if not (folder / BINDING_FILE).is_file():
        raise ConfigError(f"{run}: no {BINDING_FILE}, so the vectors it reads are unknown; export a checkpoint of restore-train run")
    refuse_foreign_folder(out, EXPORTED_FILES, "export")
    model = Restorer.from_pretrained(folder)
    binding = read_binding(folder)
    if prompter is not None:
        binding = _rebound(binding, run, Path(prompter))
    if binding.prompter_locator not in ("", SHIPPED_PROMPTER) and binding.prompter_hash == weights_hash(SHIPPED_ASSESSOR):
        # Trained on the shipped prompter read from a folder of this machine: name it so it is found wherever the package is.
        binding = dataclasses.replace(binding, prompter_locator=SHIPPED_PROMPTER)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, half=half)
    write_binding(tmp, binding)
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    return out


def _rebound(binding: Fingerprint, run: Path, prompter: Path) -> Fingerprint:
    """`binding` naming `prompter`, refused unless it computes the trained-with prompter's image feature."""
    trained_with = SHIPPED_ASSESSOR if binding.prompter_locator in ("", SHIPPED_PROMPTER) else Path(binding.prompter_locator)
    if not (trained_with / "model.safetensors").is_file() or weights_hash(trained_with) != binding.prompter_hash:
        raise ConfigError(
            f"{run}: the prompter it was trained with (hash {binding.prompter_hash}) is not in {trained_with}, "
            "so its features cannot be compared with --prompter's; put it back there first"
        )
    if not same_features(load_assessor(trained_with), load_assessor(prompter)):
        raise ConfigError(
            f"{prompter}: its image features differ from those {run} was trained on; train a restorer on its vectors "
            "(restore-embed build, restore-train run), or train the prompter with --heads-only"
        )
    return dataclasses.replace(binding, prompter_hash=weights_hash(prompter), prompter_locator=str(prompter.resolve()))
