"""`restore-train`: train the restorer from a split's pairs and its cached embeddings."""

from __future__ import annotations

import typer

from shared.cli import not_built_yet, run_app

app = typer.Typer(help="Stage two: train the restorer from the embedding cache.", no_args_is_help=True, add_completion=False)


@app.command()
def run() -> None:
    """Train (or --resume) a restorer."""
    raise not_built_yet("restore-train run", "issue #4, stage two")


@app.command()
def show() -> None:
    """Print a checkpoint's config and training state."""
    raise not_built_yet("restore-train show", "issue #4, stage two")


def main() -> None:
    run_app(app)
