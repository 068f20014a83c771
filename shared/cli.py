"""What every console script shares: known errors as one red line, progress bars, tables."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from shared.degrade import FAMILY_SETS
from shared.errors import RestoreError

FAMILIES_HELP = f"Generator families: the split's own (default), or one of {', '.join(FAMILY_SETS)}"

console = Console(stderr=False)
error_console = Console(stderr=True)


def run_app(app: typer.Typer) -> None:
    """Run a typer app: RestoreError -> one red line + its exit code; RESTORE_DEBUG=1 shows the traceback."""
    try:
        app(standalone_mode=False)
    except RestoreError as exc:
        if os.environ.get("RESTORE_DEBUG") == "1":
            raise
        error_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        error_console.print("[red]interrupted[/red]: finished work is kept; run the same command again to resume")
        sys.exit(130)
    except (typer.Exit, SystemExit) as exc:
        sys.exit(getattr(exc, "exit_code", getattr(exc, "code", 0)))
    except Exception as exc:  # click's usage errors and friends
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(1)
        raise


@contextmanager
def progress_bar(description: str, total: int | None = None) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar; yields an on_progress(done, total) callback for library functions."""
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(description, total=total)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update


def synthesis_config(
    split,
    seed: int | None = None,
    categories: str | None = None,
    per_image: int | None = None,
    max_side: int | None = None,
    variants: int | None = None,
    families: str | None = None,
):
    """A SynthesisConfig from CLI flags over the split's defaults, or None when no flag was given
    (a split already built keeps its own config).

    Categories are comma-separated; max_side 0 keeps full size; families names a family set.
    """
    import dataclasses

    from shared.degrade import DegradationModel
    from shared.pairs import default_synthesis

    flags = (seed, categories, per_image, max_side, variants, families)
    if all(flag is None for flag in flags):
        return None
    changes: dict = {"per_image": per_image}
    if seed is not None:
        changes["seed"] = seed
    if max_side is not None:
        changes["max_side"] = max_side or None
    if categories:
        changes["categories"] = tuple(c.strip() for c in categories.split(",") if c.strip())
    if variants is not None:
        changes["variants"] = variants
    if families is not None:
        changes["model"] = DegradationModel.from_family_set(families)
    return dataclasses.replace(default_synthesis(split), **changes)


def build_split_pairs(split_name: str, data_root: str | None, cache_dir: str, workers: int = 1, **synthesis):
    """Resolve a split and build its pairs with a progress bar; print a one-line summary and failures."""
    from shared.pairs import build_pairs
    from shared.splits import resolve_split

    split = resolve_split(split_name, data_root)
    config = synthesis_config(split, **synthesis)
    with progress_bar(f"pairs {split.name}") as on_progress:
        report = build_pairs(split, cache_dir, config, on_progress, workers=workers)
    what = f"{report.built} photos synthesized now" if report.built or not report.rows else "already built, nothing to do"
    console.print(f"[green]{split.name}[/green]: {len(report.rows)} pairs in {report.pairs_dir} ({what})")
    for failure in report.failures:
        error_console.print(f"[yellow]skipped[/yellow] {failure['error']}", highlight=False, soft_wrap=True)
    return split, report
