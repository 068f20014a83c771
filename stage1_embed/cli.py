"""`restore-embed`: build a split's pairs, its embeddings, and inspect the cache."""

from __future__ import annotations

from pathlib import Path

import typer

from shared.cli import FAMILIES_HELP, build_split_pairs, console, error_console, progress_bar, run_app
from shared.splits import SPLIT_NAMES

app = typer.Typer(help="Stage one: degraded/clean pairs and their embeddings.", no_args_is_help=True, add_completion=False)

SPLIT_HELP = ", ".join(SPLIT_NAMES)


@app.command()
def pairs(
    split: str = typer.Option(..., "--split", help=SPLIT_HELP),
    data_root: str = typer.Option(None, "--data-root", help="Dataset root (default: $RESTORE_DATA)"),
    cache_dir: str = typer.Option("cache", "--cache-dir", help="Where pairs and shards are written"),
    seed: int = typer.Option(None, "--seed", help="Synthesis seed (default: the split's own)"),
    categories: str = typer.Option(None, "--categories", help="Comma-separated, e.g. low,haze,low_haze_rain,noise"),
    per_image: int = typer.Option(None, "--per-image", help="Categories drawn per photo (default: all)"),
    max_side: int = typer.Option(None, "--max-side", help="Downscale larger photos (default 512); 0 keeps full size"),
    variants: int = typer.Option(None, "--variants", min=1, help="Independent composites per (photo, category) (default 1)"),
    families: str = typer.Option(None, "--families", help=FAMILIES_HELP),
    workers: int = typer.Option(1, "--workers", min=1, help="Processes synthesizing side by side (one per core; the same pairs)"),
) -> None:
    """Synthesize a split's degraded/clean pairs once, under CACHE_DIR/<split>/pairs/."""
    build_split_pairs(split, data_root, cache_dir, workers, seed=seed, categories=categories, per_image=per_image,
                      max_side=max_side, variants=variants, families=families)  # fmt: skip


@app.command()
def gallery(
    output: Path = typer.Option(Path("docs/degradations.png"), "-o", "--output"),
    image: Path = typer.Option(None, "--image", help="A clean photo (default: scikit-image's motorcycle, with its real depth)"),
    seed: int = typer.Option(0, "--seed"),
    size: int = typer.Option(200, "--size", help="Long side of each tile (200 keeps the PNG near 1 MB)"),
    work_size: int = typer.Option(512, "--work-size", help="Long side the degradations are synthesized at"),
) -> None:
    """Write one photo under every generator family (a row per degradation) and a few composites as a labelled grid."""
    from shared.degrade.gallery import family_gallery
    from shared.image_io import fit_max_side, load_image, save_image
    from shared.splits import resolve_split

    if image is None:
        photo = [p for p in resolve_split("demo").clean_photos() if p.image_id == "motorcycle"][0]
        clean, depth = fit_max_side(photo.load(), work_size), photo.depth()
        depth = fit_max_side(depth[..., None], work_size)[..., 0]
    else:
        clean, depth = fit_max_side(load_image(image).rgb, work_size), None
    grid = family_gallery(clean, seed, depth=depth, tile_side=size)
    save_image(output, grid.astype("float32") / 255.0)
    console.print(f"wrote {output}")


@app.command()
def families(
    split: str = typer.Option("demo", "--split", help="Clean photos to degrade: " + SPLIT_HELP),
    photos: int = typer.Option(12, "--photos", min=1, help="How many photos (the first ones, by id)"),
    seed: int = typer.Option(0, "--seed"),
    max_side: int = typer.Option(512, "--max-side", help="Downscale larger photos first; 0 keeps full size"),
    report: Path = typer.Option(None, "--report", help="Also write the table as CSV"),
    data_root: str = typer.Option(None, "--data-root", help="Dataset root (default: $RESTORE_DATA)"),
) -> None:
    """Every generator family alone on a few photos: input PSNR, severity and speed (the README's degradation table)."""
    import csv

    from rich.table import Table

    from shared.degrade.survey import survey_families
    from shared.errors import SplitError
    from shared.fileio import atomic_path
    from shared.image_io import fit_max_side, to_uint8
    from shared.splits import resolve_split

    chosen = resolve_split(split, data_root)
    if chosen.clean_photos is None:
        raise SplitError(f"{split}: holds ready pairs, not clean photos; give a folder of clean photos")
    selected = sorted(chosen.clean_photos(), key=lambda p: p.image_id)[:photos]
    loaded = [(p.image_id, to_uint8(fit_max_side(p.load(), max_side or None)) / 255) for p in selected]
    with progress_bar("families") as on_progress:
        rows = survey_families(loaded, seed, on_progress)
    table = Table(title=f"generator families alone on {len(loaded)} photos of {split} (seed {seed})")
    for column in ("degradation", "family", "input PSNR dB (min-max)", "severity", "s / MP"):
        table.add_column(column)
    for row in rows:
        name = row.family + (" (held out)" if row.held_out else "")
        table.add_row(row.component, name, f"{row.psnr_mean:.2f} ({row.psnr_min:.1f}-{row.psnr_max:.1f})",
                      f"{row.severity_mean:.2f}", f"{row.seconds_per_megapixel:.2f}")  # fmt: skip
    console.print(table)
    if report is not None:
        with atomic_path(report) as tmp, open(tmp, "w", newline="") as handle:
            writer = csv.writer(handle)
            header = ["component", "family", "held_out", "psnr_mean", "psnr_min", "psnr_max", "severity_mean", "seconds_per_megapixel"]
            writer.writerow(header)
            for row in rows:
                writer.writerow([row.component, row.family, int(row.held_out), f"{row.psnr_mean:.3f}", f"{row.psnr_min:.3f}",
                                 f"{row.psnr_max:.3f}", f"{row.severity_mean:.3f}", f"{row.seconds_per_megapixel:.3f}"])  # fmt: skip
        console.print(f"wrote {report}")


ENCODER_HELP = "auto (e5v with a GPU and its weights, else local), e5v or local"
MODEL_HELP = "E5-V folder or hub id already in the local cache (default royokong/e5-v)"
QUANT_HELP = "E5-V loading: auto (4bit on GPU, none on CPU), 4bit, 8bit, none"
PROMPTER_HELP = "Pseudo-prompt generator folder (default: the shipped one)"


def _load_models(encoder: str, model: str | None, quant: str, prompter: Path | None, device: str | None = None):
    """(prompt generator, embedder, fingerprint), saying which encoder was chosen and why."""
    from stage1_embed.embedders import create_embedder, fingerprint_of
    from stage1_embed.prompter import PromptGenerator

    generator = PromptGenerator.from_pretrained(prompter) if prompter else PromptGenerator.from_pretrained()
    embedder, reason = create_embedder(encoder, generator, model, quant, device)
    console.print(f"encoder: {reason}")
    return generator, embedder, fingerprint_of(embedder, generator)


@app.command()
def build(
    split: str = typer.Option(..., "--split", help=SPLIT_HELP),
    encoder: str = typer.Option("auto", "--encoder", help=ENCODER_HELP),
    model: str = typer.Option(None, "--model", help=MODEL_HELP),
    quant: str = typer.Option("auto", "--quant", help=QUANT_HELP),
    prompter: Path = typer.Option(None, "--prompter", help=PROMPTER_HELP),
    batch_size: int = typer.Option(16, "--batch-size", min=1),
    shard: str = typer.Option(
        None, "--shard", help="K/N: build every N-th shard from K (default: torchrun's RANK/WORLD_SIZE, a Slurm array's task, else 0/1)"
    ),
    rows_per_shard: int = typer.Option(1024, "--rows-per-shard", min=1),
    data_root: str = typer.Option(None, "--data-root", help="Dataset root (default: $RESTORE_DATA)"),
    cache_dir: str = typer.Option("cache", "--cache-dir"),
    true_prompts: bool = typer.Option(
        False, "--true-prompts", help="Word each prompt from the pair's true labels (an oracle for restore-eval --true-prompts)"
    ),
) -> None:
    """Embed every degraded image of a split into HDF5 shards under CACHE_DIR/<split>/<fingerprint>/."""
    import os

    from rich.table import Table

    from shared.cache import parse_shard_spec
    from shared.contract import true_prompt_fingerprint
    from stage1_embed.build import build_embeddings, device_from_environment, worker_from_environment

    worker = parse_shard_spec(shard) if shard else worker_from_environment(os.environ)
    shard = f"{worker[0]}/{worker[1]}"
    device = device_from_environment(os.environ)
    split_obj, pairs = build_split_pairs(split, data_root, cache_dir)
    generator, embedder, fingerprint = _load_models(encoder, model, quant, prompter, device)
    if true_prompts:
        fingerprint = true_prompt_fingerprint(fingerprint)
    directory = Path(cache_dir) / split_obj.slug / fingerprint.directory_name
    with progress_bar(f"embed {split_obj.name} [{shard}]") as on_progress:
        report = build_embeddings(pairs.rows, generator, embedder, fingerprint, directory, worker, batch_size, rows_per_shard, on_progress,
                                  true_prompts=true_prompts)  # fmt: skip
    table = Table(title=f"restore-embed build {split_obj.name} ({embedder.name}, dim {embedder.dim})")
    table.add_column("what")
    table.add_column("value", justify="right")
    sizes = list(report.shard_bytes.values())
    table.add_row("images embedded now", str(report.images))
    table.add_row(
        "shards built / reused / replaced", f"{len(report.shards_built)} / {len(report.shards_reused)} / {len(report.shards_replaced)}"
    )
    table.add_row("failures (skipped)", str(len(report.failures)))
    table.add_row("images/s", f"{report.images_per_second:.1f}")
    table.add_row("shard sizes", ", ".join(f"{b / 1e6:.2f} MB" for b in sizes[:4]) + (" ..." if len(sizes) > 4 else ""))
    if report.complete and pairs.rows:
        table.add_row(
            "size per 1,000 images", f"{sum(p.stat().st_size for p in directory.glob('shard-*.h5')) / len(pairs.rows) * 1000 / 1e6:.2f} MB"
        )
    table.add_row("cache complete", "yes" if report.complete else "no (other workers' shards missing)")
    console.print(table)
    console.print(f"cache: {directory}")
    for failure in report.failures:
        error_console.print(f"[yellow]skipped[/yellow] {failure['error']}", highlight=False, soft_wrap=True)
    for replaced in report.shards_replaced:
        error_console.print(f"[yellow]rebuilt[/yellow] {replaced}", highlight=False, soft_wrap=True)


@app.command()
def photos(
    paths: list[Path] = typer.Argument(None, help="Degraded photos (or give --list)"),
    list_file: Path = typer.Option(None, "--list", help="A text file with one photo path per line"),
    out: Path = typer.Option(..., "--out", help="Vectors go to OUT/<embedder>-<fingerprint>/"),
    prompt: str = typer.Option(None, "--prompt", help="Steer instead of detecting, e.g. 'haze and heavy rain'"),
    encoder: str = typer.Option("auto", "--encoder", help=ENCODER_HELP),
    model: str = typer.Option(None, "--model", help=MODEL_HELP),
    quant: str = typer.Option("auto", "--quant", help=QUANT_HELP),
    prompter: Path = typer.Option(None, "--prompter", help=PROMPTER_HELP),
    batch_size: int = typer.Option(8, "--batch-size", min=1),
) -> None:
    """Embed a user's own photos (no ground truth): the first half of `restore`."""
    from shared.errors import ConfigError, RestoreError
    from stage1_embed.build import build_embeddings, photo_rows
    from stage1_embed.labels import parse_steering

    files = list(paths or [])
    if list_file is not None:
        if not list_file.is_file():
            raise RestoreError(f"{list_file}: no such list file; give one photo path per line")
        files += [line for line in list_file.read_text().splitlines() if line.strip()]
    if not files:
        raise RestoreError("no photos given; pass paths or --list FILE")
    if prompt is not None:
        try:
            parse_steering(prompt)
        except ValueError as exc:
            raise ConfigError(f"--prompt: {exc}") from None
    generator, embedder, fingerprint = _load_models(encoder, model, quant, prompter)
    directory = out / fingerprint.directory_name
    with progress_bar("assess and embed") as on_progress:
        report = build_embeddings(photo_rows(files), generator, embedder, fingerprint, directory, batch_size=batch_size,
                                  on_progress=on_progress, steer=prompt)  # fmt: skip
    console.print(f"embedded {report.images} of {len(files)} photos ({report.images_per_second:.1f}/s) into {directory}")
    for failure in report.failures:
        error_console.print(f"[yellow]skipped[/yellow] {failure['error']}", highlight=False, soft_wrap=True)


@app.command()
def assess(
    paths: list[Path] = typer.Argument(..., help="Photos or folders of photos"),
    prompter: Path = typer.Option(None, "--prompter", help=PROMPTER_HELP),
    report: Path = typer.Option(None, "--report", help="Also write one row per photo as CSV"),
) -> None:
    """Say what the pseudo-prompt generator sees in each photo (prompt, class, confidence), then count the classes."""
    import csv
    from collections import Counter

    from rich.table import Table

    from shared.contract import LABELS
    from shared.fileio import atomic_path
    from shared.splits import image_files
    from stage1_embed.prompter import PromptGenerator, assess_files

    files = []
    for path in paths:
        files += image_files(path) if path.is_dir() else [path]
    generator = PromptGenerator.from_pretrained(prompter) if prompter else PromptGenerator.from_pretrained()
    with progress_bar("assess") as on_progress:
        results = assess_files(generator, files, on_progress)
    table = Table(title=f"pseudo-prompts of {len(files)} photos")
    for column in ("photo", "pseudo-prompt", "confidence"):
        table.add_column(column, overflow="fold")
    for result in results:
        if not result.error:
            table.add_row(str(result.path), result.prompt, f"{result.confidence:.2f}")
    console.print(table)
    counts = Counter(r.category for r in results if not r.error)
    console.print("classes: " + ", ".join(f"{name} {count}" for name, count in counts.most_common()))
    if report is not None:
        with atomic_path(report) as tmp, open(tmp, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["photo", "prompt", "class", "confidence", *[f"p_{label}" for label in LABELS]])
            for r in results:
                if not r.error:
                    writer.writerow([str(r.path), r.prompt, r.category, f"{r.confidence:.3f}", *[f"{p:.3f}" for p in r.probabilities]])
        console.print(f"wrote {report}")
    for result in results:
        if result.error:
            error_console.print(f"[yellow]skipped[/yellow] {result.error}", highlight=False, soft_wrap=True)


@app.command()
def verify(path: Path = typer.Argument(..., help="A cache folder: CACHE_DIR/<split>/<fingerprint>")) -> None:
    """Check every shard against the folder's fingerprint; exit 1 if any is missing, corrupt or foreign."""
    from rich.table import Table

    from shared.cache import verify_cache
    from shared.errors import RestoreError

    statuses = verify_cache(path)
    table = Table(title=f"verify {path}")
    for column in ("shard", "state", "rows", "detail"):
        table.add_column(column)
    for status in statuses:
        colour = "green" if status.state == "ok" else "red"
        table.add_row(status.path.name, f"[{colour}]{status.state}[/{colour}]", str(status.rows), status.detail)
    console.print(table)
    bad = [s for s in statuses if s.state != "ok"]
    if bad or not statuses:
        raise RestoreError(f"{path}: {len(bad)} of {len(statuses)} shards not ok; run restore-embed build again to rebuild them")


@app.command()
def inspect(
    path: Path = typer.Argument(..., help="A cache folder or one shard file"),
    rows: int = typer.Option(3, "--rows"),
) -> None:
    """Print the schema, fingerprint and a few rows of a cache."""
    import json

    import h5py
    from rich.table import Table

    from shared.errors import RestoreError

    shard_path = path if path.is_file() else next(iter(sorted(path.glob("shard-*.h5"))), None)
    if shard_path is None:
        raise RestoreError(f"{path}: no shard-*.h5 here; give a cache folder or a shard file")
    try:
        handle = h5py.File(shard_path, "r")
    except OSError as exc:
        raise RestoreError(f"{shard_path}: not a readable HDF5 shard ({exc}); rebuild it with restore-embed build") from None
    with handle:
        console.print(f"[bold]{shard_path}[/bold]")
        console.print_json(handle.attrs["fingerprint"])
        schema = Table(title="schema")
        for column in ("dataset", "shape", "dtype", "chunks"):
            schema.add_column(column)
        for name, dataset in handle.items():
            schema.add_row(name, str(dataset.shape), str(dataset.dtype), str(dataset.chunks))
        console.print(schema)
        sample = Table(title=f"first {rows} rows")
        for column in ("id", "prompt", "labels", "embedding[:4]"):
            sample.add_column(column)
        for i in range(min(rows, handle["id"].shape[0])):
            sample.add_row(handle["id"].asstr()[i], handle["prompt"].asstr()[i], str(handle["labels"][i].tolist()),
                           " ".join(f"{v:+.3f}" for v in handle["embedding"][i][:4]))  # fmt: skip
        console.print(sample)
        console.print(f"failures recorded: {len(json.loads(handle.attrs['failures']))}")


PROMPTER_RUN = Path("runs") / "prompter"
"""Never the shipped assessor: the shipped restorer's fingerprint names that prompter, so replacing it breaks `restore`."""
PROMPTER_FILES = frozenset({"model.safetensors", "config.json", "train_config.json", "history.csv", "history.png", "reliability.png"})


@app.command("train-prompter")
def train_prompter(
    train: str = typer.Option(..., "--train", help="Split of clean training photos, e.g. folder:A,B (every training folder)"),
    val: str = typer.Option(..., "--val", help="Split of clean validation photos (in-distribution; also fits the temperatures)"),
    heldout_val: str = typer.Option(None, "--heldout-val", help="Also select on this split (e.g. heldout:PATH, unseen families)"),
    extra_train: list[str] = typer.Option(
        None, "--extra-train", help="Also train on this split's pairs, as built or with its own defaults (repeatable), e.g. weather:PATH"
    ),
    out: Path = typer.Option(PROMPTER_RUN, "--out", help="Where the weights go (a new folder, or an earlier train-prompter output)"),
    epochs: int = typer.Option(30, "--epochs", min=1),
    steps_per_epoch: int = typer.Option(None, "--steps-per-epoch", min=1, help="Batches per epoch (default: one pass)"),
    variants: int = typer.Option(1, "--variants", min=1, help="Variants per (photo, category) of the training split"),
    per_image: int = typer.Option(None, "--per-image", help="Degraded categories per photo and variant (default: all)"),
    crops: int = typer.Option(4, "--crops", min=1, help="Native-resolution crops per image"),
    init_from: Path = typer.Option(None, "--init-from", help="Start from this assessor folder (its trunk)"),
    lr: float = typer.Option(2e-3, "--lr"),
    hard_clear_weight: float = typer.Option(
        4.0, "--hard-clear-weight", min=0.0, help="Draw each clear photo in proportion to 1 + this x P(degraded) among clear photos"
    ),
    close_up_fraction: float = typer.Option(
        0.125,
        "--close-up-fraction",
        min=0.0,
        max=0.5,
        help="Share of each batch made of close-ups of clear photos (half with low-ISO noise)",
    ),
    heads_only: bool = typer.Option(
        False, "--heads-only", help="Retrain only the heads of --init-from: its features stay, so its restorers read the new vectors"
    ),
    seed: int = typer.Option(0, "--seed"),
    cache_dir: str = typer.Option("cache", "--cache-dir"),
    families: str = typer.Option(None, "--families", help=f"{FAMILIES_HELP}, for --train and --val (the held-out split keeps its own)"),
) -> None:
    """Train the pseudo-prompt generator on composites of TRAIN (seed 0), select on VAL (seed 1), calibrate on VAL."""
    import dataclasses

    from shared.assessor import AssessorConfig
    from shared.config import save_config
    from shared.fileio import refuse_foreign_folder
    from stage1_embed.labels import PROMPTER_CATEGORIES

    refuse_foreign_folder(out, PROMPTER_FILES, "train-prompter", "--out")
    from stage1_embed import train_prompter as recipe

    config = recipe.PrompterTrainConfig(seed=seed, epochs=epochs, lr=lr, steps_per_epoch=steps_per_epoch,
                                        hard_clear_weight=hard_clear_weight, close_up_fraction=close_up_fraction,
                                        init_from=str(init_from or ""), heads_only=heads_only, net=AssessorConfig(crops=crops))  # fmt: skip
    categories = ",".join(PROMPTER_CATEGORIES)
    _, train_pairs = build_split_pairs(train, None, cache_dir, seed=0, categories=categories, variants=variants, per_image=per_image,
                                       families=families)  # fmt: skip
    train_rows = list(train_pairs.rows)
    for extra in extra_train or []:
        train_rows += build_split_pairs(extra, None, cache_dir)[1].rows
    val_splits = {"val": (val, 1)} | ({"heldout_val": (heldout_val, 3)} if heldout_val else {})
    with progress_bar("load train images") as on_progress:
        train_data = recipe.load_labelled(train_rows, on_progress)
    console.print(f"training on {len(train_data.images)} images from {1 + len(extra_train or [])} split(s)")
    vals = {}
    for name, (split, split_seed) in val_splits.items():
        # Selected on what it learns: "low light" worded on a darker set is judged on that set, not on lime's dim frames.
        split_families = families if name == "val" else None
        _, pairs = build_split_pairs(split, None, cache_dir, seed=split_seed, categories=categories, families=split_families)
        vals[name] = recipe.load_labelled(pairs.rows)
    with progress_bar("train") as on_progress:
        generator, history = recipe.train_prompter(
            train_data, vals, config,
            on_epoch=lambda log: console.print(
                f"epoch {log.epoch}: loss {log.loss:.4f}, val accuracy {log.val_accuracy:.4f} "
                f"({', '.join(f'{k} {v:.4f}' for k, v in log.val_accuracies.items())}), mean F1 {log.val_f1_mean:.4f} ({log.seconds:.0f} s)"
            ),
            on_step=on_progress,
        )  # fmt: skip
    generator, before, after = recipe.calibrate(generator, vals["val"])
    generator.save_pretrained(out)
    save_config(dataclasses.replace(config, net=generator.config), out / "train_config.json")
    recipe.write_history(out / "history.csv", history)
    recipe.write_reliability_png(out / "reliability.png", {"before calibration": before, "after (per-label temperature)": after})
    best = max(history, key=lambda h: h.val_accuracy)
    console.print(f"best epoch {best.epoch}: mean val exact-match accuracy {best.val_accuracy:.4f}; "
                  f"temperatures {', '.join(f'{t:.2f}' for t in generator.config.temperatures)}; "
                  f"val ECE {before.ece:.4f} -> {after.ece:.4f}; wrote {out}")  # fmt: skip


@app.command("eval-prompter")
def eval_prompter(
    split: str = typer.Option(..., "--split", help=SPLIT_HELP),
    seed: int = typer.Option(1234, "--seed", help="Synthesis seed (evaluation composites use their own)"),
    prompter: Path = typer.Option(None, "--prompter", help="Generator folder (default: the shipped one)"),
    report: Path = typer.Option(None, "--report", help="Write the scores as CSV"),
    confusion_png: Path = typer.Option(None, "--confusion", help="Write the 12-class confusion matrix as PNG"),
    families: str = typer.Option(None, "--families", help=FAMILIES_HELP),
    categories: str = typer.Option(None, "--categories", help="Comma-separated categories to synthesize (default: all the prompter's)"),
    cache_dir: str = typer.Option("cache", "--cache-dir"),
    data_root: str = typer.Option(None, "--data-root"),
) -> None:
    """Score the pseudo-prompt generator: 12-class exact-match accuracy, per-label precision/recall/F1, calibration."""
    import csv

    from rich.table import Table

    from shared.fileio import atomic_path
    from stage1_embed.labels import LABELS, PROMPTER_CATEGORIES
    from stage1_embed.prompter import PromptGenerator
    from stage1_embed.train_prompter import confusion, load_labelled, predict, reliability, score_prompter, write_confusion_png

    generator = PromptGenerator.from_pretrained(prompter) if prompter else PromptGenerator.from_pretrained()
    categories = categories or ",".join(PROMPTER_CATEGORIES)
    split_obj, pairs = build_split_pairs(split, data_root, cache_dir, seed=seed, categories=categories, families=families)
    with progress_bar(f"assess {split_obj.name}") as on_progress:
        data = load_labelled(pairs.rows, on_progress)
    predictions = predict(generator, data)
    scores = score_prompter(generator, data, predictions)
    calibration = reliability(predictions.probabilities, data.presence)
    table = Table(title=f"pseudo-prompt generator on {split_obj.name} (seed {seed})")
    for column in ("label", "precision", "recall", "F1"):
        table.add_column(column, justify="left" if column == "label" else "right")
    for label in LABELS:
        table.add_row(label, f"{scores.precision[label]:.4f}", f"{scores.recall[label]:.4f}", f"{scores.f1[label]:.4f}")
    console.print(table)
    per_category = Table(title="exact-match accuracy per class (12 classes: clear + CDD-11)")
    per_category.add_column("class")
    per_category.add_column("accuracy", justify="right")
    for category, accuracy in scores.per_category_accuracy.items():
        per_category.add_row(category, f"{accuracy:.4f}")
    per_category.add_row("[bold]all 12[/bold]", f"[bold]{scores.category_accuracy:.4f}[/bold] ({scores.category_images} images)")
    console.print(per_category)
    console.print(f"severity MAE on present labels: {scores.severity_mae:.4f}; expected calibration error {calibration.ece:.4f}")
    if confusion_png:
        classes, counts = confusion(predictions, data)
        write_confusion_png(confusion_png, classes, counts, f"{split_obj.name} (seed {seed}): exact match {scores.category_accuracy:.3f}")
        console.print(f"wrote {confusion_png}")
    if report:
        with atomic_path(report) as tmp, open(tmp, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["split", "seed", "metric", "name", "value"])
            writer.writerow([split_obj.name, seed, "exact_match_accuracy", "12_classes", f"{scores.category_accuracy:.4f}"])
            for category, accuracy in scores.per_category_accuracy.items():
                writer.writerow([split_obj.name, seed, "class_accuracy", category, f"{accuracy:.4f}"])
            for label in LABELS:
                for metric, values in (("precision", scores.precision), ("recall", scores.recall), ("f1", scores.f1)):
                    writer.writerow([split_obj.name, seed, metric, label, f"{values[label]:.4f}"])
            writer.writerow([split_obj.name, seed, "severity_mae", "present_labels", f"{scores.severity_mae:.4f}"])
            writer.writerow([split_obj.name, seed, "ece", "presence", f"{calibration.ece:.4f}"])
        console.print(f"wrote {report}")


def main() -> None:
    run_app(app)


if __name__ == "__main__":
    main()
