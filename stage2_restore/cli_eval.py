"""`restore-eval SPLIT`: per-category PSNR/SSIM of the input and of each --checkpoint."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from shared.cli import FAMILIES_HELP, build_split_pairs, console, error_console, progress_bar, run_app
from stage2_restore.evaluate import (
    checkpoint_model,
    contenders,
    embed_split_for,
    identity,
    limit_images,
    score_pairs,
    summarize,
    write_grid,
    write_report,
)

app = typer.Typer(add_completion=False)


@app.command()
def evaluate(
    split: str = typer.Argument(..., help="lsdir-val, cdd11, demo, folder:PATH, ..."),
    checkpoint: list[str] = typer.Option(
        None, "--checkpoint", help="[NAME=]PATH: a checkpoint or run folder (repeatable; default: the newest run and the shipped one)"
    ),
    report: Path = typer.Option(None, "--report", help="Write the summary as CSV"),
    grid: Path = typer.Option(None, "--grid", help="Write input / each model / ground truth for a few images as PNG"),
    limit: int = typer.Option(None, "--limit", min=1, help="Only the first N photos of the split"),
    tile: int = typer.Option(512, "--tile", min=32, help="Larger images are restored in overlapping tiles of this size"),
    data_root: str = typer.Option(None, "--data-root", help="Dataset root (default: $RESTORE_DATA)"),
    cache_dir: str = typer.Option("cache", "--cache-dir"),
    seed: int = typer.Option(None, "--seed", help="Synthesis seed for splits built from clean photos"),
    max_side: int = typer.Option(None, "--max-side", help="Downscale larger photos when synthesizing (default 512); 0 keeps full size"),
    categories: str = typer.Option(None, "--categories", help="Comma-separated categories to synthesize (default: CDD-11's 11)"),
    families: str = typer.Option(None, "--families", help=FAMILIES_HELP),
    true_prompts: bool = typer.Option(
        False, "--true-prompts", help="Also score each checkpoint with prompts worded from the true labels (NAME+true): the prompter's cost"
    ),
) -> None:
    """Score the input and each checkpoint per category on SPLIT; builds the split's pairs, and its vectors for a checkpoint, if needed."""
    synthesis = {"seed": seed, "max_side": max_side, "categories": categories, "families": families}
    split_obj, pairs = build_split_pairs(split, data_root, cache_dir, **synthesis)
    models = {"input": identity}
    console.print("input: the degraded images as they are")
    for contender in contenders(checkpoint or []):
        console.print(f"{contender.name}: {contender.role}")
        for oracle in (False, True) if true_prompts else (False,):
            name = f"{contender.name}+true" if oracle else contender.name
            with console.status(f"stage one: embedding {split_obj.name} for {name} (once)"):
                if embed_split_for(contender.path, split_obj, cache_dir, data_root, oracle):
                    wording = "true prompts" if oracle else "its prompter's prompts"
                    console.print(f"  embedded {split_obj.name} with {contender.name}'s embedder, {wording}")
            models[name] = checkpoint_model(contender.path, Path(cache_dir) / split_obj.slug, tile, true_prompts=oracle)[1]
    rows = limit_images(pairs.rows, limit)
    with progress_bar(f"evaluate {split_obj.name}") as on_progress:
        scores, failures = score_pairs(rows, models, on_progress)
    summary = summarize(scores)
    table = Table(title=f"{split_obj.name}: PSNR (dB) / SSIM per category")
    for column in ("model", "category", "images", "PSNR", "SSIM", "s/image"):
        table.add_column(column, justify="left" if column in ("model", "category") else "right")
    for row in summary:
        style = "bold" if row.category == "average" else None
        table.add_row(
            row.model, row.category, str(row.images), f"{row.psnr:.2f}", f"{row.ssim:.4f}", f"{row.seconds_per_image:.3f}", style=style
        )
    console.print(table)
    for failure in failures:
        error_console.print(f"[yellow]skipped[/yellow] {failure['error']}", highlight=False, soft_wrap=True)
    if report:
        console.print(f"wrote {write_report(report, split_obj.name, summary)}")
    if grid:
        console.print(f"wrote {write_grid(grid, rows, {k: v for k, v in models.items() if k != 'input'})}")


def main() -> None:
    run_app(app)


if __name__ == "__main__":
    main()
