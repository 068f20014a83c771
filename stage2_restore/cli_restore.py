"""`restore PHOTO -o OUT`: the photographer's command."""

from __future__ import annotations

from pathlib import Path

import typer

from shared.cli import not_built_yet, run_app

app = typer.Typer(add_completion=False)


@app.command()
def restore(
    source: Path = typer.Argument(..., help="A photo or a folder of photos"),
    output: Path = typer.Option(..., "-o", "--output"),
) -> None:
    """Restore a photo (or every photo in a folder)."""
    raise not_built_yet("restore", "issue #5, the product")


def main() -> None:
    run_app(app)


if __name__ == "__main__":
    main()
