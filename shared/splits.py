"""Split names -> the photos or ready-made pairs behind them (DESIGN.md lists the splits).

- lsdir-train, lsdir-val: clean LSDIR photos in the official layout, degraded by shared.degrade.
- cdd11, cdd11-train: the official CDD-11 test / train folders (already paired).
- demo: photos inside scikit-image's wheel; motorcycle brings a real disparity map for haze.
- folder:PATH: a folder of clean photos, or of CDD-11-style category folders; folder:A,B,C joins
  several folders of clean photos (ids keep the folder's name: "urban100-img_001").
- heldout:PATH: the clean photos of PATH degraded only with the generator families training
  never uses (shared.degrade.families.HELD_OUT): leave-one-family-out validation.
- closeup:PATH[,PATH...]: each clean photo of the folders, at the 512 px training size, seen as a
  camera's 100 % view (shared.degrade.close_up: a crop enlarged 1.5-2.5x back to that size, smooth
  at pixel level), then degraded with the training families: real photos are viewed this way, our
  512 px training photos never are.
- weather:PATH[,PATH...]: the clean photos of the folders degraded with weather as a camera
  records it (shared.degrade.families FAMILY_SETS["weather"]: fine rain, out-of-focus snow),
  the other degradations as in training: a split of its own, since adding families to the
  training set would change every composite of the splits built with it.
- underexposed:PATH[,PATH...]: the same, with low light only as base-ISO underexposure (dark and
  nearly noise-free, FAMILY_SETS["underexposed"]); the other degradations as in training.
- dimroom:PATH[,PATH...]: each close-up of closeup:PATH as a dim room (shared.degrade.dim_room: the
  exposure lowered to a room's level, the target as dark as the input), then degraded with the
  training families: a dark photo with nothing to lift, as PolyU's rooms are.
- paired:PATH: PATH/input/ and PATH/target/, real or foreign pairs (LOL, PolyU, ...); the category is the folder's name.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shared.degrade import CDD11_CATEGORIES, CLEAR, depth_from_disparity
from shared.degrade.close_up import close_up
from shared.degrade.composite import stable_id_hash
from shared.degrade.dim_room import dim_room
from shared.errors import SplitError
from shared.image_io import IMAGE_SUFFIXES, fit_max_side, load_image

DATA_ROOT_ENV = "RESTORE_DATA"


@dataclass(frozen=True)
class CleanPhoto:
    """One clean source photo of a split to be degraded; loading is deferred."""

    image_id: str
    source: str
    load: Callable[[], np.ndarray]
    depth: Callable[[], np.ndarray | None] = lambda: None


@dataclass(frozen=True)
class ReadyPair:
    """A degraded/clean pair that exists on disk already (CDD-11); `clean` is None when missing."""

    image_id: str
    category: str
    degraded: Path
    clean: Path | None


@dataclass(frozen=True)
class Split:
    """What a split name resolves to: clean photos to synthesize from, or ready pairs."""

    name: str
    slug: str
    default_seed: int
    clean_photos: Callable[[], list[CleanPhoto]] | None = None
    ready_pairs: Callable[[], list[ReadyPair]] | None = None
    family_set: str = "train"
    """Which generator families (shared.degrade.families.FAMILY_SETS) synthesize its composites."""


def image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def _id_for(path: Path, root: Path) -> str:
    """Filename-safe id from the path below `root` ("0001000/0000001.png" -> "0001000-0000001")."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(path.relative_to(root).with_suffix("")))


def _photos_in(folder: Path) -> list[CleanPhoto]:
    return [CleanPhoto(_id_for(p, folder), str(p), lambda p=p: load_image(p).rgb) for p in image_files(folder)]


def _demo_photos() -> list[CleanPhoto]:
    from skimage import data  # lazy: importing skimage.data is slow and only the demo needs it

    def motorcycle_depth() -> np.ndarray:
        return depth_from_disparity(data.stereo_motorcycle()[2])

    def as_float(array: np.ndarray) -> np.ndarray:
        return array.astype(np.float32)[..., :3] / 255.0

    photos = [
        CleanPhoto(name, f"skimage.data.{name}", lambda name=name: as_float(getattr(data, name)()))
        for name in ("astronaut", "chelsea", "coffee", "rocket")
    ]
    photos.append(
        CleanPhoto("motorcycle", "skimage.data.stereo_motorcycle", lambda: as_float(data.stereo_motorcycle()[0]), motorcycle_depth)
    )
    return photos


def _cdd11_pairs(folder: Path) -> list[ReadyPair]:
    """Rows of a CDD-11 folder: every file of a category folder, matched by name in clear/."""
    clear = folder / CLEAR
    pairs = []
    for category in CDD11_CATEGORIES:
        for degraded in image_files(folder / category) if (folder / category).is_dir() else []:
            matches = [m for m in clear.glob(degraded.stem + ".*") if m.suffix.lower() in IMAGE_SUFFIXES]
            pairs.append(ReadyPair(_id_for(degraded, folder / category), category, degraded, matches[0] if matches else None))
    return pairs


def _data_root(data_root: str | Path | None, name: str, expected: str) -> Path:
    root = data_root or os.environ.get(DATA_ROOT_ENV)
    if not root:
        raise SplitError(
            f"{name}: no data root given; pass --data-root DIR or set ${DATA_ROOT_ENV} to a folder holding {expected}, or try --split demo"
        )
    return Path(root).expanduser()


def _first_existing(name: str, root: Path, candidates: list[str], expected: str) -> Path:
    for candidate in candidates:
        if (root / candidate).is_dir():
            return root / candidate
    looked = ", ".join(str(root / c) for c in candidates)
    raise SplitError(f"{name}: looked in {looked} and found no folder; expected {expected}; or try --split demo")


def _lsdir_folder(name: str, data_root: str | Path | None) -> Path:
    expected = (
        "LSDIR's layout <root>/HR/train/0001000/0000001.png" if name == "lsdir-train"
        else "LSDIR's layout <root>/HR/val/0000001.png (or <root>/val1/HR/val/)"
    )  # fmt: skip
    root = _data_root(data_root, name, expected)
    candidates = ["HR/train", "LSDIR/HR/train"] if name == "lsdir-train" else ["HR/val", "val1/HR/val", "LSDIR/HR/val"]
    return _first_existing(name, root, candidates, expected)


def _cdd11_folder(name: str, data_root: str | Path | None) -> Path:
    sub = "CDD-11_test" if name == "cdd11" else "CDD-11_train"
    expected = f"the official layout <root>/{sub}/{{clear,low,haze,...,low_haze_snow}}/<same file names>"
    root = _data_root(data_root, name, expected)
    folder = root if root.name == sub else _first_existing(name, root, [sub], expected)
    if not (folder / CLEAR).is_dir():
        raise SplitError(f"{name}: {folder} has no clear/ folder; expected {expected}")
    return folder


def _clean_folder(path: str, prefix: str) -> Path:
    folder = Path(path).expanduser()
    if not folder.is_dir():
        either = " or of CDD-11 category folders (clear/, low/, haze/, ...)" if prefix == "folder" else ""
        raise SplitError(f"{prefix}:{path}: {folder} is not a folder; give a folder of clean photos{either}, or try --split demo")
    return folder


def _slug(prefix: str, folders: list[Path]) -> str:
    names = "+".join(f.resolve().name for f in folders)
    if len(folders) > 1 and len(names) > 60:
        names = f"{folders[0].resolve().name}+{len(folders) - 1}-more-{hashlib.sha256(names.encode()).hexdigest()[:8]}"
    return prefix + "-" + re.sub(r"[^A-Za-z0-9._+-]+", "-", names)


def _only_clean(folders: list[Path], name: str) -> None:
    if not folders:
        raise SplitError(f"{name}: no folder given; give a folder of clean photos")
    for folder in folders:
        if (folder / CLEAR).is_dir():
            raise SplitError(f"{name}: {folder} holds CDD-11 category folders (clear/, ...), not clean photos; use folder:{folder} alone")


def _folders(path: str) -> Split:
    folders = [_clean_folder(p, "folder") for p in path.split(",") if p]
    if len(folders) != 1:
        _only_clean(folders, f"folder:{path}")
    if len(folders) == 1 and (folders[0] / CLEAR).is_dir():
        return Split(f"folder:{path}", _slug("folder", folders), 0, ready_pairs=lambda: _cdd11_pairs(folders[0]))
    if len(folders) == 1:
        return Split(f"folder:{path}", _slug("folder", folders), 0, clean_photos=lambda: _photos_in(folders[0]))

    def photos() -> list[CleanPhoto]:
        names = [folder.resolve().name for folder in folders]
        twins = sorted({name for name in names if names.count(name) > 1})
        if twins:
            raise SplitError(f"folder:{path}: two folders named {', '.join(twins)}; their photo ids would collide, rename one")
        return [CleanPhoto(f"{folder.resolve().name}-{photo.image_id}", photo.source, photo.load, photo.depth)
                for folder in folders for photo in _photos_in(folder)]  # fmt: skip

    return Split(f"folder:{path}", _slug("folders", folders), 0, clean_photos=photos)


def _heldout(path: str) -> Split:
    folder = _clean_folder(path, "heldout")
    _only_clean([folder], f"heldout:{path}")
    return Split(f"heldout:{path}", _slug("heldout", [folder]), 3, clean_photos=lambda: _photos_in(folder), family_set="heldout")


def _family_split(kind: str, path: str, seed: int) -> Split:
    """The clean photos of the folders degraded with the family set named `kind` (weather, underexposed)."""
    folders = [_clean_folder(p, kind) for p in path.split(",") if p]
    _only_clean(folders, f"{kind}:{path}")
    # Its own seed: the training split's, with the same photo ids, would repeat its darkness and haze.
    return Split(f"{kind}:{path}", _slug(kind, folders), seed, clean_photos=_folders(path).clean_photos, family_set=kind)


CLOSE_UP_SIDE = 512
"""Long side of the photo a close-up is cut from and enlarged back to: the size training photos are stored at."""


def _close_ups(path: str, kind: str = "closeup") -> Split:
    """Every photo of folder:PATH as one close-up of it at CLOSE_UP_SIDE, crop and zoom fixed by the photo's id;
    kind "dimroom" also lowers its exposure to a dim room's, by a level fixed the same way."""
    folders = [_clean_folder(p, kind) for p in path.split(",") if p]
    _only_clean(folders, f"{kind}:{path}")
    photos_of = _folders(path).clean_photos

    def seen_close(photo: CleanPhoto) -> np.ndarray:
        # Cut from the photo at training size: cut from a larger original, the split's downscale would undo the zoom.
        return close_up(fit_max_side(photo.load(), CLOSE_UP_SIDE), np.random.default_rng([stable_id_hash(photo.image_id), 17]))

    def seen(photo: CleanPhoto) -> Callable[[], np.ndarray]:
        if kind == "dimroom":
            return lambda: dim_room(seen_close(photo), np.random.default_rng([stable_id_hash(photo.image_id), 19]))
        return lambda: seen_close(photo)

    def photos() -> list[CleanPhoto]:
        return [CleanPhoto(f"{photo.image_id}-{kind}", photo.source, seen(photo)) for photo in photos_of()]

    return Split(f"{kind}:{path}", _slug(kind, folders), 0, clean_photos=photos)


def _match_target(degraded: Path, targets: dict[str, Path]) -> Path | None:
    """The ground truth of a degraded file: same stem, else the one stem sharing the longest prefix (im_0001_s80 -> im_0001)."""
    if degraded.stem in targets:
        return targets[degraded.stem]
    shared = {stem: len(os.path.commonprefix([stem, degraded.stem])) for stem in targets}
    best = max(shared.values(), default=0)
    winners = [stem for stem, length in shared.items() if length == best]
    return targets[winners[0]] if best >= 2 and len(winners) == 1 else None


def _paired(path: str) -> Split:
    folder = Path(path).expanduser()
    if not (folder / "input").is_dir() or not (folder / "target").is_dir():
        raise SplitError(f"paired:{path}: expected {folder}/input/ (degraded) and {folder}/target/ (ground truth) with matching names")
    slug = "paired-" + re.sub(r"[^A-Za-z0-9._-]+", "-", folder.resolve().name)

    def pairs() -> list[ReadyPair]:
        targets = {p.stem: p for p in image_files(folder / "target")}
        return [ReadyPair(_id_for(p, folder / "input"), folder.resolve().name, p, _match_target(p, targets))
                for p in image_files(folder / "input")]  # fmt: skip

    return Split(f"paired:{path}", slug, 0, ready_pairs=pairs)


SPLIT_NAMES = ("lsdir-train", "lsdir-val", "cdd11", "cdd11-train", "demo", "folder:PATH[,PATH...]", "heldout:PATH",
               "closeup:PATH[,PATH...]", "dimroom:PATH[,PATH...]", "weather:PATH[,PATH...]", "underexposed:PATH[,PATH...]",
               "paired:PATH")  # fmt: skip


def resolve_split(name: str, data_root: str | Path | None = None) -> Split:
    """The Split behind `name`; an unknown name raises SplitError listing the choices.

    Default seeds differ between training and evaluation splits, so that evaluation
    composites are never the training ones.
    """
    if name.startswith("folder:"):
        return _folders(name.removeprefix("folder:"))
    if name.startswith("heldout:"):
        return _heldout(name.removeprefix("heldout:"))
    if name.startswith("closeup:"):
        return _close_ups(name.removeprefix("closeup:"))
    if name.startswith("dimroom:"):
        return _close_ups(name.removeprefix("dimroom:"), "dimroom")
    if name.startswith("weather:"):
        return _family_split("weather", name.removeprefix("weather:"), 4)
    if name.startswith("underexposed:"):
        return _family_split("underexposed", name.removeprefix("underexposed:"), 5)
    if name.startswith("paired:"):
        return _paired(name.removeprefix("paired:"))
    if name in ("lsdir-train", "lsdir-val"):
        folder = _lsdir_folder(name, data_root)
        return Split(name, name, 0 if name == "lsdir-train" else 1, clean_photos=lambda: _photos_in(folder))
    if name in ("cdd11", "cdd11-train"):
        folder = _cdd11_folder(name, data_root)
        return Split(name, name, 0, ready_pairs=lambda: _cdd11_pairs(folder))
    if name == "demo":
        return Split(name, name, 2, clean_photos=_demo_photos)
    raise SplitError(f"unknown split {name!r}; choose one of {', '.join(SPLIT_NAMES)}")
