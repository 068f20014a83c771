"""`restore PHOTO -o OUT`: the photographer's command."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from shared.cli import console, error_console, progress_bar, run_app

app = typer.Typer(add_completion=False)


@app.command()
def restore(
    source: Path = typer.Argument(..., help="A photo, or a folder of photos (sub-folders included)"),
    output: Path = typer.Option(..., "-o", "--output", help="Output file (format by extension), or folder"),
    prompt: str = typer.Option(None, "--prompt", help="Steer instead of auto-detecting, e.g. 'haze and heavy rain'"),
    strength: float = typer.Option(1.0, "--strength", help="0 keeps the input, 1 the full restoration (times --sure's caution)"),
    compare: bool = typer.Option(False, "--compare", help="Also write <output>.compare.png (before | after)"),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace outputs that exist (kept by default)"),
    checkpoint: Path = typer.Option(None, "--checkpoint", help="Restorer folder (default: the shipped one)"),
    tile: int = typer.Option(512, "--tile", help="Restore in tiles of this size (bounds memory on large photos)"),
    keep_clear: float = typer.Option(
        None, "--keep-clear", help="Return a photo called clear with this confidence unchanged (default 0.6; >1: never)"
    ),
    sure: float = typer.Option(
        None, "--sure", help="Probability of the strongest degradation from which it is removed in full (default 0.9); below, less"
    ),
) -> None:
    """Restore a photo (or every photo in a folder): detect its degradations, remove them, save."""
    from rich.table import Table

    from stage2_restore.photos import SHIPPED_RESTORER, RestoreOptions, plan_jobs, restore_photos

    caution = {name: value for name, value in (("sure", sure), ("keep_clear", keep_clear)) if value is not None}
    options = RestoreOptions(prompt=prompt, strength=strength, compare=compare, overwrite=overwrite, tile=tile, **caution)
    jobs = plan_jobs(source, output)
    with progress_bar(f"restore {len(jobs)} photo{'s' * (len(jobs) != 1)}") as on_progress:
        results = restore_photos(jobs, checkpoint or SHIPPED_RESTORER, options, on_progress)
    table = Table(title="restore")
    for column in ("photo", "pseudo-prompt" if prompt is None else "prompt (steered)", "confidence", "size", "seconds", "output"):
        table.add_column(column, overflow="fold")
    for result in results:
        if result.status in ("restored", "clear"):
            width, height = result.size
            shown = str(result.job.output) + (f"\n{result.compare}" if result.compare else "")
            doubt = " [yellow](unsure)[/yellow]" if result.confidence < options.sure else ""
            if result.status == "restored" and result.applied < options.strength:
                doubt = f" [yellow](unsure: {result.applied:.0%} of the restoration applied)[/yellow]"
            said = result.prompt + (" [green](left unchanged)[/green]" if result.status == "clear" else "")
            sure_text = f"{result.confidence:.2f}{doubt}"
            table.add_row(str(result.job.source), said, sure_text, f"{width}x{height}", f"{result.seconds:.1f}", shown)
        elif result.status == "exists":
            table.add_row(str(result.job.source), "", "", "", "", f"[yellow]kept existing[/yellow] {result.job.output}")
    console.print(table)
    counts = {status: sum(r.status == status for r in results) for status in ("restored", "clear", "exists", "failed")}
    console.print(f"{counts['restored']} restored, {counts['clear']} clear (written unchanged), "
                  f"{counts['exists']} already there (kept), {counts['failed']} failed")  # fmt: skip
    if counts["exists"] and not overwrite:
        console.print("existing outputs were kept; pass --overwrite to replace them")
    for result in results:
        if result.status == "failed":
            error_console.print(f"[red]failed[/red] {result.error}", highlight=False, soft_wrap=True)
    if counts["failed"]:
        error_console.print("fix or remove the failed photos and run the same command again: finished ones are kept")
        sys.exit(1)


def main() -> None:
    run_app(app)


if __name__ == "__main__":
    main()
