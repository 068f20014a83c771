"""`restore-train`: train the restorer from a split's pairs and its embedding cache."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from shared.cli import console, run_app

app = typer.Typer(help="Stage two: train the restorer from the embedding cache.", no_args_is_help=True, add_completion=False)


@app.command()
def run(
    config_file: Path = typer.Option(None, "--config", help="A train_config.json to start from (flags override it)"),
    split: str = typer.Option(None, "--split", help="Split whose pairs and embeddings to train on (default lsdir-train)"),
    cache: str = typer.Option(None, "--cache", help="Cache folder name under cache/<split>/ (default: the only one)"),
    extra_split: list[str] = typer.Option(
        None, "--extra-split", help="Also train on this split (repeatable), e.g. closeup:PATH; its vectors made like --split's"
    ),
    steps: int = typer.Option(None, "--steps", min=1),
    batch_size: int = typer.Option(None, "--batch-size", min=1, help="Per process; global batch = this x processes"),
    crop: int = typer.Option(None, "--crop", min=8),
    lr: float = typer.Option(None, "--lr"),
    descriptor: str = typer.Option(None, "--descriptor", help="dynamic (cached vector) or static (one vector per class)"),
    width: int = typer.Option(None, "--width", help="Channels at the first level (OneRestore: 32)"),
    contrastive: str = typer.Option(None, "--contrastive", help="Feature space of the contrastive term: assessor or none"),
    seed: int = typer.Option(None, "--seed"),
    checkpoint_every: int = typer.Option(None, "--checkpoint-every", min=1),
    init_from: str = typer.Option(None, "--init-from", help="Start from this checkpoint's weights (fine-tuning)"),
    clear_fraction: float = typer.Option(None, "--clear-fraction", min=0.0, max=1.0, help="Share of each batch from clear pairs"),
    extra_fraction: list[float] = typer.Option(
        None, "--extra-fraction", help="Share of each batch from an extra split's degraded pairs (one per --extra-split, in order)"
    ),
    misdirected_fraction: float = typer.Option(
        None, "--misdirected-fraction", min=0.0, max=1.0, help="Share of each batch from clear pairs given a degraded version's vector"
    ),
    overcalled_fraction: float = typer.Option(
        None, "--overcalled-fraction", min=0.0, max=1.0, help="Share of each batch from degraded pairs given a worse version's vector"
    ),
    focus_label: str = typer.Option(None, "--focus-label", help="low, haze, rain, snow, noise or blur: pairs to weight up"),
    focus_fraction: float = typer.Option(
        None, "--focus-fraction", min=0.0, max=1.0, help="Share of each batch from degraded pairs whose category has --focus-label"
    ),
    data_root: str = typer.Option(None, "--data-root"),
    cache_dir: str = typer.Option(None, "--cache-dir"),
    out: Path = typer.Option(None, "--out", help="Run folder (default runs/<split>-<descriptor>)"),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its last checkpoint"),
    threads: int = typer.Option(None, "--threads", help="torch CPU threads"),
) -> None:
    """Train (or --resume) a restorer; checkpoints, log.csv and loss.png go to the run folder."""
    import torch

    from stage2_restore.train import plan_run, train

    if threads:
        torch.set_num_threads(threads)
    flags = {"split": split, "cache": cache, "extra_splits": tuple(extra_split) if extra_split else None,
             "steps": steps, "batch_size": batch_size, "crop": crop, "lr": lr, "seed": seed,
             "checkpoint_every": checkpoint_every, "init_from": init_from, "clear_fraction": clear_fraction,
             "extra_fractions": tuple(extra_fraction) if extra_fraction else None, "misdirected_fraction": misdirected_fraction,
             "overcalled_fraction": overcalled_fraction, "focus_label": focus_label, "focus_fraction": focus_fraction,
             "data_root": data_root, "cache_dir": cache_dir,
             "descriptor": descriptor, "width": width, "contrastive": contrastive}  # fmt: skip
    config, run_dir = plan_run(flags, config_file, out, resume)
    columns = (TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[status]}"),
               TimeElapsedColumn(), TimeRemainingColumn())  # fmt: skip
    speaker = os.environ.get("RANK", "0") == "0"  # under torchrun only rank 0 talks
    with Progress(*columns, console=console, disable=not speaker) as progress:
        task = progress.add_task("train", total=config.steps, status="")

        def on_step(log) -> None:
            status = f"loss {log.loss:.4f}  lr {log.lr:.2e}  {1 / max(log.seconds, 1e-9):.2f} it/s"
            progress.update(task, completed=log.step, status=status)

        result = train(config, run_dir, resume=resume, on_step=on_step)
    if speaker:
        for reason in result.unreadable.values():  # rank 0's; under torchrun each rank meets its own
            console.print(f"[yellow]skipped[/yellow] {reason}")
        console.print(f"checkpoint: {result.checkpoint}\nlog: {run_dir / 'log.csv'}, curve: {run_dir / 'loss.png'}")


@app.command()
def show(run_dir: Path = typer.Argument(..., help="A run folder")) -> None:
    """Print a run's config, checkpoint step and cache fingerprint."""
    from stage2_restore.train import describe_run

    info = describe_run(run_dir)
    table = Table(title=str(run_dir))
    table.add_column("field")
    table.add_column("value")
    table.add_row("checkpoint step", str(info["step"]))
    for key, value in info["config"].items():
        table.add_row(key, json.dumps(value) if isinstance(value, dict) else str(value))
    if "cache" in info:
        table.add_row("cache embedder", f"{info['cache']['embedder']} ({info['cache']['weights_revision']}), dim {info['cache']['dim']}")
    console.print(table)


@app.command()
def export(
    run_dir: Path = typer.Argument(..., help="A run folder (or its checkpoint/)"),
    out: Path = typer.Option(..., "-o", "--out", help="Folder to write: model.safetensors, config.json, cache.json"),
    full_precision: bool = typer.Option(False, "--fp32", help="Keep fp32 weights (default: fp16, half the size)"),
    prompter: Path = typer.Option(
        None, "--prompter", help="Bind to this prompter: one with the trained-with prompter's features (train-prompter --heads-only)"
    ),
) -> None:
    """Write a run's EMA weights in the shipped form (no optimizer or training state)."""
    from stage2_restore.train import export_checkpoint

    folder = export_checkpoint(run_dir, out, half=not full_precision, prompter=prompter)
    size = (folder / "model.safetensors").stat().st_size / 1e6
    console.print(f"wrote {folder} ({size:.1f} MB weights)")


def main() -> None:
    run_app(app)


if __name__ == "__main__":
    main()
