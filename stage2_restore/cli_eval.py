"""`restore-eval SPLIT`: per-category PSNR/SSIM of the input (and, later, of checkpoints)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from shared.cli import build_split_pairs, console, error_console, not_built_yet, progress_bar, run_app
from stage2_restore.evaluate import identity, score_pairs, summarize, write_report

app = typer.Typer(add_completion=False)


@app.command()
def evaluate(
    split: str = typer.Argument(..., help="lsdir-val, cdd11, demo, folder:PATH, ..."),
    checkpoint: list[Path] = typer.Option(None, "--checkpoint", help="A restorer checkpoint directory (repeatable)"),
    report: Path = typer.Option(None, "--report", help="Write the summary as CSV"),
    data_root: str = typer.Option(None, "--data-root", help="Dataset root (default: $RESTORE_DATA)"),
    cache_dir: str = typer.Option("cache", "--cache-dir"),
    seed: int = typer.Option(None, "--seed", help="Synthesis seed for splits built from clean photos"),
    max_side: int = typer.Option(None, "--max-side", help="Downscale larger photos when synthesizing (default 512); 0 keeps full size"),
) -> None:
    """Score the input (and each --checkpoint) per category on SPLIT; builds the split's pairs if needed."""
    if checkpoint:
        raise not_built_yet("restore-eval --checkpoint", "issue #4, stage two")
    split_obj, pairs = build_split_pairs(split, data_root, cache_dir, seed=seed, max_side=max_side)
    with progress_bar(f"evaluate {split_obj.name}") as on_progress:
        scores, failures = score_pairs(pairs.rows, {"input": identity}, on_progress)
    summary = summarize(scores)
    table = Table(title=f"{split_obj.name}: PSNR (dB) / SSIM per category")
    for column in ("model", "category", "images", "PSNR", "SSIM", "s/image"):
        table.add_column(column, justify="left" if column in ("model", "category") else "right")
    for row in summary:
        style = "bold" if row.category == "average" else None
        table.add_row(row.model, row.category, str(row.images), f"{row.psnr:.2f}", f"{row.ssim:.4f}", f"{row.seconds_per_image:.3f}", style=style)
    console.print(table)
    for failure in failures:
        error_console.print(f"[yellow]skipped[/yellow] {failure['error']}", highlight=False, soft_wrap=True)
    if report:
        console.print(f"wrote {write_report(report, split_obj.name, summary)}")


def main() -> None:
    run_app(app)
