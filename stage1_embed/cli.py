"""`restore-embed`: build a split's pairs, its embeddings, and inspect the cache."""

from __future__ import annotations

from pathlib import Path

import typer

from shared.cli import build_split_pairs, console, not_built_yet, run_app

app = typer.Typer(help="Stage one: degraded/clean pairs and their embeddings.", no_args_is_help=True, add_completion=False)

SPLIT_HELP = "lsdir-train, lsdir-val, cdd11, cdd11-train, demo or folder:PATH"


@app.command()
def pairs(
    split: str = typer.Option(..., "--split", help=SPLIT_HELP),
    data_root: str = typer.Option(None, "--data-root", help="Dataset root (default: $RESTORE_DATA)"),
    cache_dir: str = typer.Option("cache", "--cache-dir", help="Where pairs and shards are written"),
    seed: int = typer.Option(None, "--seed", help="Synthesis seed (default: the split's own)"),
    categories: str = typer.Option(None, "--categories", help="Comma-separated, e.g. low,haze,low_haze_rain,noise"),
    per_image: int = typer.Option(None, "--per-image", help="Categories drawn per photo (default: all)"),
    max_side: int = typer.Option(512, "--max-side", help="Downscale larger photos; 0 keeps full size"),
) -> None:
    """Synthesize a split's degraded/clean pairs once, under CACHE_DIR/<split>/pairs/."""
    build_split_pairs(split, data_root, cache_dir, seed=seed, categories=categories, per_image=per_image, max_side=max_side)


@app.command()
def gallery(
    output: Path = typer.Option(Path("docs/degradations.png"), "-o", "--output"),
    image: Path = typer.Option(None, "--image", help="A clean photo (default: scikit-image's motorcycle, with its real depth)"),
    seed: int = typer.Option(0, "--seed"),
    size: int = typer.Option(240, "--size", help="Long side of each tile (240 keeps the PNG under 1 MB)"),
    work_size: int = typer.Option(512, "--work-size", help="Long side the degradations are synthesized at"),
) -> None:
    """Write one photo under every CDD-11 category (and noise, blur, JPEG) as a labelled grid."""
    from shared.degrade import CDD11_CATEGORIES, DegradationModel
    from shared.degrade.gallery import degradation_gallery
    from shared.image_io import fit_max_side, load_image, save_image
    from shared.splits import resolve_split

    if image is None:
        photo = [p for p in resolve_split("demo").clean_photos() if p.image_id == "motorcycle"][0]
        clean, depth = fit_max_side(photo.load(), work_size), photo.depth()
        depth = fit_max_side(depth[..., None], work_size)[..., 0]
    else:
        clean, depth = fit_max_side(load_image(image).rgb, work_size), None
    categories = CDD11_CATEGORIES + ("noise", "blur", "jpeg", "low_haze_rain_blur_noise")
    grid = degradation_gallery(clean, categories, DegradationModel(), seed, depth=depth, tile_side=size)
    save_image(output, grid.astype("float32") / 255.0)
    console.print(f"wrote {output}")


@app.command()
def build(split: str = typer.Option(..., "--split", help=SPLIT_HELP)) -> None:
    """Embed every degraded image of a split into HDF5 shards."""
    raise not_built_yet("restore-embed build", "issue #3, stage one")


@app.command()
def verify(path: Path) -> None:
    """Check every shard under PATH against its fingerprint."""
    raise not_built_yet("restore-embed verify", "issue #3, stage one")


@app.command()
def inspect(path: Path) -> None:
    """Print a shard's schema, fingerprint and a few rows."""
    raise not_built_yet("restore-embed inspect", "issue #3, stage one")


@app.command("train-prompter")
def train_prompter() -> None:
    """Train the pseudo-prompt generator on synthesized composites."""
    raise not_built_yet("restore-embed train-prompter", "issue #3, stage one")


def main() -> None:
    run_app(app)
