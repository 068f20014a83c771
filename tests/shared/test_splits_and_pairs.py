import dataclasses
import json

import numpy as np
import pytest

from shared.degrade import FAMILY_SETS, HELD_OUT, DegradationModel
from shared.degrade.camera import srgb_to_linear
from shared.degrade.close_up import close_up
from shared.degrade.composite import stable_id_hash
from shared.errors import ConfigError, SplitError
from shared.image_io import fit_max_side, load_image, to_uint8
from shared.pairs import FAILURES, MANIFEST, PARTIAL, SynthesisConfig, build_pairs, default_synthesis, read_pairs, resynthesize
from shared.splits import CLOSE_UP_SIDE, resolve_split
from tests.conftest import write_photo

SMALL = SynthesisConfig(seed=3, categories=("low", "haze_rain", "snow"), max_side=32)


def lsdir_tree(root):
    for folder, names in {"HR/train/0001000": ["0000001", "0000002"], "HR/train/0002000": ["0001001"], "HR/val": ["0000001"]}.items():
        for index, name in enumerate(names):
            write_photo(root / folder / f"{name}.png", seed=index)
    return root


def cdd11_tree(root, sub="CDD-11_test"):
    for category in ("clear", "low", "haze_rain", "low_haze_snow"):
        for name in ("00001", "00002"):
            write_photo(root / sub / category / f"{name}.png", seed=hash(category) % 7)
    write_photo(root / sub / "low" / "00003.png")  # its ground truth is missing
    return root


def test_lsdir_official_layout(tmp_path):
    root = lsdir_tree(tmp_path / "LSDIR")
    photos = resolve_split("lsdir-train", root).clean_photos()
    assert [p.image_id for p in photos] == ["0001000-0000001", "0001000-0000002", "0002000-0001001"]
    assert [p.image_id for p in resolve_split("lsdir-val", root).clean_photos()] == ["0000001"]
    assert resolve_split("lsdir-train", root).default_seed != resolve_split("lsdir-val", root).default_seed


def test_lsdir_from_environment_and_val1_layout(tmp_path, monkeypatch):
    write_photo(tmp_path / "val1/HR/val/0000007.png")
    monkeypatch.setenv("RESTORE_DATA", str(tmp_path))
    assert [p.image_id for p in resolve_split("lsdir-val").clean_photos()] == ["0000007"]


def test_cdd11_official_layout_and_missing_ground_truth(tmp_path):
    root = cdd11_tree(tmp_path)
    report = build_pairs(resolve_split("cdd11", root), tmp_path / "cache")
    assert len(report.rows) == 6
    assert {r.category for r in report.rows} == {"low", "haze_rain", "low_haze_snow"}
    assert all(r.clean.name == r.degraded.name and r.clean.parent.name == "clear" for r in report.rows)
    assert len(report.failures) == 1 and "00003.png" in report.failures[0]["error"]
    cdd11_tree(tmp_path, "CDD-11_train")
    assert len(resolve_split("cdd11-train", tmp_path).ready_pairs()) == 7


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        ("nosuch", "unknown split 'nosuch'; choose one of lsdir-train, lsdir-val, cdd11, cdd11-train, demo, folder:PATH"),
        ("lsdir-train", r"looked in .*HR/train.*expected LSDIR's layout.*--split demo"),
        ("cdd11", r"looked in .*CDD-11_test.*expected the official layout.*--split demo"),
        ("folder:/definitely/not/here", "is not a folder.*--split demo"),
    ],
)
def test_unknown_split_or_missing_root_says_where_it_looked(tmp_path, name, pattern):
    with pytest.raises(SplitError, match=pattern):
        resolve_split(name, tmp_path)


def test_missing_data_root_names_the_flag_and_variable(monkeypatch):
    monkeypatch.delenv("RESTORE_DATA", raising=False)
    with pytest.raises(SplitError, match=r"--data-root DIR or set \$RESTORE_DATA"):
        resolve_split("lsdir-train")


def test_demo_split_ships_with_scikit_image():
    photos = resolve_split("demo").clean_photos()
    assert [p.image_id for p in photos] == ["astronaut", "chelsea", "coffee", "rocket", "motorcycle"]
    depth = photos[-1].depth()
    assert depth.shape == photos[-1].load().shape[:2] and 0 <= depth.min() < depth.max() <= 1


def photo_folder(tmp_path, bad_files=None):
    folder = tmp_path / "photos"
    for index in range(3):
        write_photo(folder / f"p{index}.png", 24, 40, seed=index)
    for path in (bad_files or {}).values():
        (folder / path.name).write_bytes(path.read_bytes())
    return folder


def test_build_pairs_skips_bad_files_and_keeps_the_rest(tmp_path, bad_files):
    folder = photo_folder(tmp_path, bad_files)
    report = build_pairs(resolve_split(f"folder:{folder}"), tmp_path / "cache", SMALL)
    assert report.built == 3 and len(report.rows) == 9
    assert sorted(f["source"].split("/")[-1] for f in report.failures) == sorted(p.name for p in bad_files.values())
    directory = report.pairs_dir
    assert (directory / MANIFEST).is_file() and not (directory / PARTIAL).exists()
    assert len((directory / FAILURES).read_text().splitlines()) == 4
    rows = read_pairs(directory)
    assert [(r.image_id, r.category) for r in rows] == [(r.image_id, r.category) for r in report.rows]
    low = next(r for r in rows if r.category == "low")
    assert low.params["low"]["gamma"] > 0 and low.source.endswith("p0.png")


def test_second_build_does_no_work(tmp_path):
    split = resolve_split(f"folder:{photo_folder(tmp_path)}")
    build_pairs(split, tmp_path / "cache", SMALL)
    again = build_pairs(split, tmp_path / "cache", SMALL)
    assert again.built == 0 and len(again.rows) == 9


def test_pixels_on_disk_are_what_the_model_produces(tmp_path):
    split = resolve_split(f"folder:{photo_folder(tmp_path)}")
    report = build_pairs(split, tmp_path / "cache", SMALL)
    row = report.rows[0]
    clean = load_image(row.clean).rgb
    expected, _ = SMALL.model.degrade(clean, row.category, row.image_id, SMALL.seed)
    np.testing.assert_array_equal(to_uint8(load_image(row.degraded).rgb), to_uint8(expected))


def test_interrupted_build_resumes_and_equals_a_one_shot_build(tmp_path):
    split = resolve_split(f"folder:{photo_folder(tmp_path)}")

    def kill_after_first(done, total):
        if done == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_pairs(split, tmp_path / "killed", SMALL, on_progress=kill_after_first)
    directory = tmp_path / "killed" / split.slug / "pairs"
    assert not (directory / MANIFEST).exists() and len((directory / PARTIAL).read_text().splitlines()) == 3
    resumed = build_pairs(split, tmp_path / "killed", SMALL)
    assert resumed.reused == 1 and resumed.built == 2
    one_shot = build_pairs(split, tmp_path / "once", SMALL)
    for a, b in zip(resumed.rows, one_shot.rows, strict=True):
        assert (a.image_id, a.category, a.params) == (b.image_id, b.category, b.params)
        assert a.degraded.read_bytes() == b.degraded.read_bytes()


def test_a_different_config_is_refused(tmp_path):
    split = resolve_split(f"folder:{photo_folder(tmp_path)}")
    build_pairs(split, tmp_path / "cache", SMALL)
    with pytest.raises(SplitError, match="another synthesis config.*delete that folder"):
        build_pairs(split, tmp_path / "cache", SynthesisConfig(seed=4, categories=SMALL.categories, max_side=32))


def test_per_image_sampling_is_seeded(tmp_path):
    split = resolve_split(f"folder:{photo_folder(tmp_path)}")
    config = SynthesisConfig(seed=1, categories=("low", "haze", "rain", "snow"), per_image=2, max_side=32)
    first = build_pairs(split, tmp_path / "a", config)
    second = build_pairs(split, tmp_path / "b", config)
    assert len(first.rows) == 6
    assert [(r.image_id, r.category) for r in first.rows] == [(r.image_id, r.category) for r in second.rows]


def test_cdd11_style_folder_split(tmp_path):
    root = cdd11_tree(tmp_path)
    report = build_pairs(resolve_split(f"folder:{root / 'CDD-11_test'}"), tmp_path / "cache")
    assert len(report.rows) == 6 and json.loads((report.pairs_dir / "split.json").read_text())["seed"] == 0


def test_paired_split_matches_names_and_prefixes(tmp_path):
    root = tmp_path / "lol"
    for degraded, target in (("1.png", "1.png"), ("im_0002_s80_a04.png", "im_0002.png"), ("chair_11_real.JPG", "chair_11_mean.JPG")):
        write_photo(root / "input" / degraded)
        write_photo(root / "target" / target)
    write_photo(root / "input" / "orphan.png")
    split = resolve_split(f"paired:{root}")
    pairs = {p.degraded.name: p.clean.name if p.clean else None for p in split.ready_pairs()}
    assert pairs == {"1.png": "1.png", "im_0002_s80_a04.png": "im_0002.png", "chair_11_real.JPG": "chair_11_mean.JPG", "orphan.png": None}
    report = build_pairs(split, tmp_path / "cache")
    assert len(report.rows) == 3 and {r.category for r in report.rows} == {"lol"} and "orphan.png" in report.failures[0]["error"]
    with pytest.raises(SplitError, match=r"input/ \(degraded\) and .*target/"):
        resolve_split(f"paired:{tmp_path}")


def test_variants_are_independent_images_with_their_own_cache_keys(tmp_path):
    split = resolve_split(f"folder:{photo_folder(tmp_path)}")
    config = SynthesisConfig(seed=2, categories=("clear", "low_haze", "rain_noise"), max_side=32, variants=3)
    report = build_pairs(split, tmp_path / "cache", config)
    assert len(report.rows) == 3 * (1 + 2 * 3)  # clear once per photo, the others three times
    keys = [row.key for row in report.rows]
    assert len(set(keys)) == len(keys) and {row.variant for row in report.rows} == {0, 1, 2}
    photo = report.rows[0].image_id
    rain = [row for row in report.rows if row.image_id == photo and row.category == "rain_noise"]
    assert len({row.degraded.read_bytes() for row in rain}) == 3
    assert all(row.params["rain"]["family"] and "severity" in row.params["noise"] for row in rain)
    again = read_pairs(report.pairs_dir)
    assert [(r.key, r.params) for r in again] == [(r.key, r.params) for r in report.rows]


def test_a_manifest_row_resynthesizes_the_identical_image(tmp_path):
    split = resolve_split(f"folder:{photo_folder(tmp_path)}")
    config = SynthesisConfig(seed=5, categories=("low_haze_rain", "snow_blur_jpeg"), max_side=32, variants=2)
    report = build_pairs(split, tmp_path / "cache", config)
    photos = {photo.image_id: photo for photo in split.clean_photos()}
    for row in report.rows:
        stored = load_image(row.degraded).rgb
        np.testing.assert_array_equal(to_uint8(resynthesize(row, config, photos[row.image_id])), to_uint8(stored))


def test_several_folders_and_the_held_out_split(tmp_path):
    first, second = photo_folder(tmp_path / "a"), photo_folder(tmp_path / "b").rename(tmp_path / "b" / "more")
    with pytest.raises(SplitError, match="two folders named photos"):
        resolve_split(f"folder:{first},{photo_folder(tmp_path / 'c')}").clean_photos()
    joined = resolve_split(f"folder:{first},{second}")
    ids = [photo.image_id for photo in joined.clean_photos()]
    assert len(ids) == 6 and len(set(ids)) == 6 and ids[0].startswith(first.name + "-")
    heldout = resolve_split(f"heldout:{first}")
    assert heldout.family_set == "heldout" and heldout.slug != resolve_split(f"folder:{first}").slug
    report = build_pairs(heldout, tmp_path / "cache", None)
    families = {(c, row.params[c]["family"]) for row in report.rows for c in row.params if c != "order"}
    assert families and all(family == HELD_OUT[component] for component, family in families if component in HELD_OUT)


def test_the_weather_split_draws_rain_and_snow_from_the_camera_weather_families_only(tmp_path):
    folder = photo_folder(tmp_path)
    weather = resolve_split(f"weather:{folder}")
    plain = resolve_split(f"folder:{folder}")
    assert weather.family_set == "weather" and weather.slug == f"weather-{folder.name}" and weather.default_seed != plain.default_seed
    config = dataclasses.replace(default_synthesis(weather), categories=("low_rain", "haze_snow"), max_side=32)
    rows = build_pairs(weather, tmp_path / "cache", config).rows
    drawn = {(c, row.params[c]["family"]) for row in rows for c in ("rain", "snow") if c in row.params}
    assert drawn == {("rain", "fine"), ("snow", "bokeh")}
    # The training set keeps them out: the families of the splits our numbers were measured on, pinned.
    assert FAMILY_SETS["train"] == {"low": ("lime", "camera"), "haze": ("scattering", "patchy"), "rain": ("streaks", "heavy", "drops"),
                                    "snow": ("flakes", "streaks"), "blur": ("defocus", "motion", "shake"), "noise": ("gaussian", "camera"),
                                    "jpeg": ("jpeg",)}  # fmt: skip


def test_the_heavy_rain_family_set_draws_rain_from_the_heavy_family_only(tmp_path):
    split = resolve_split(f"folder:{photo_folder(tmp_path)}")
    config = dataclasses.replace(default_synthesis(split), categories=("rain", "haze_rain"), max_side=32, variants=3,
                                 model=DegradationModel.from_family_set("heavy_rain"))  # fmt: skip
    rows = build_pairs(split, tmp_path / "cache", config).rows
    assert {row.params["rain"]["family"] for row in rows if "rain" in row.params} == {"heavy"}
    assert {row.params["haze"]["family"] for row in rows if "haze" in row.params} <= set(FAMILY_SETS["train"]["haze"])


def test_the_underexposed_split_darkens_only_by_base_iso_underexposure(tmp_path):
    folder = photo_folder(tmp_path)
    split = resolve_split(f"underexposed:{folder}")
    seeds = {resolve_split(f"{kind}:{folder}").default_seed for kind in ("folder", "heldout", "weather")}
    assert split.family_set == "underexposed" and split.slug == f"underexposed-{folder.name}" and split.default_seed not in seeds
    config = dataclasses.replace(default_synthesis(split), categories=("low", "low_haze", "rain"), max_side=32)
    rows = build_pairs(split, tmp_path / "cache", config).rows
    drawn = {(c, row.params[c]["family"]) for row in rows for c in row.params if c != "order"}
    assert {family for component, family in drawn if component == "low"} == {"underexposed"}
    assert {family for component, family in drawn if component != "low"} <= set(FAMILY_SETS["train"]["haze"] + FAMILY_SETS["train"]["rain"])
    assert "underexposed" not in FAMILY_SETS["train"]["low"] + FAMILY_SETS["weather"]["low"] + FAMILY_SETS["heldout"]["low"]


def test_a_split_built_by_an_older_synthesizer_is_refused_with_the_fix(tmp_path):
    split = resolve_split(f"folder:{photo_folder(tmp_path)}")
    directory = tmp_path / "cache" / split.slug / "pairs"
    directory.mkdir(parents=True)
    (directory / "split.json").write_text(json.dumps({"seed": 0, "model": {"low": {"gamma": [2.0, 3.0]}}}))
    with pytest.raises(SplitError, match="another version of the synthesizer.*delete that folder"):
        build_pairs(split, tmp_path / "cache")


def test_per_image_sampling_always_keeps_clear(tmp_path):
    split = resolve_split(f"folder:{photo_folder(tmp_path)}")
    config = SynthesisConfig(seed=1, categories=("clear", "low", "haze", "rain", "snow"), per_image=2, max_side=32, variants=2)
    rows = build_pairs(split, tmp_path / "a", config).rows
    assert sum(row.category == "clear" for row in rows) == 3 and len(rows) == 3 + 3 * 2 * 2


def test_a_close_up_split_sees_each_photo_once_enlarged_the_same_way_every_time(tmp_path):
    folder = photo_folder(tmp_path)
    split = resolve_split(f"closeup:{folder}")
    plain = {p.image_id: p for p in resolve_split(f"folder:{folder}").clean_photos()}
    photos = split.clean_photos()
    assert split.slug == f"closeup-{folder.name}" and split.family_set == "train"
    assert sorted(p.image_id for p in photos) == sorted(f"{i}-closeup" for i in plain)
    for photo in photos:
        image_id = photo.image_id.removesuffix("-closeup")
        original = plain[image_id].load()
        assert photo.load().shape == original.shape and not np.allclose(photo.load(), original)
        # Fixed by the photo's id alone (a process-independent hash), whatever else was drawn before.
        expected = close_up(fit_max_side(original, CLOSE_UP_SIDE), np.random.default_rng([stable_id_hash(image_id), 17]))
        np.testing.assert_array_equal(photo.load(), expected)
    big = tmp_path / "big"
    write_photo(big / "wide.png", 600, 1024, seed=0)
    # A photo larger than the training size is cut at that size, so the split's downscale keeps the zoom.
    assert resolve_split(f"closeup:{big}").clean_photos()[0].load().shape == (300, 512, 3)


def test_joined_and_held_out_splits_refuse_category_folders(tmp_path):
    root = cdd11_tree(tmp_path / "cdd") / "CDD-11_test"
    other = photo_folder(tmp_path / "x")
    with pytest.raises(SplitError, match="holds CDD-11 category folders"):
        resolve_split(f"folder:{other},{root}")
    with pytest.raises(SplitError, match="holds CDD-11 category folders"):
        resolve_split(f"heldout:{root}")
    with pytest.raises(SplitError, match="holds CDD-11 category folders"):
        resolve_split(f"closeup:{root}")
    with pytest.raises(SplitError, match="holds CDD-11 category folders"):
        resolve_split(f"weather:{root}")
    with pytest.raises(SplitError, match=r"^closeup:.*is not a folder; give a folder of clean photos, or try"):
        resolve_split(f"closeup:{tmp_path / 'nowhere'}")
    with pytest.raises(ConfigError, match="per_image must be at least 1"):
        SynthesisConfig(per_image=0)


def test_a_second_concurrent_build_waits_then_gives_up_and_a_stale_lock_is_taken_over(tmp_path):
    import os
    import subprocess
    import sys

    split = resolve_split(f"folder:{photo_folder(tmp_path)}")
    directory = tmp_path / "cache" / split.slug / "pairs"
    directory.mkdir(parents=True)
    (directory / "build.lock").write_text(str(os.getpid()))  # a live build: this very process
    with pytest.raises(SplitError, match="another build of this split is running"):
        build_pairs(split, tmp_path / "cache", SMALL, wait_seconds=0.3)
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    (directory / "build.lock").write_text(finished.stdout.strip())  # left by a build that died
    assert len(build_pairs(split, tmp_path / "cache", SMALL).rows) == 9
    assert not (directory / "build.lock").exists()


def test_a_dim_room_split_is_the_close_up_darkened_to_a_room_level_and_never_brightened(tmp_path):
    from shared.degrade.dim_room import ROOM_LEVEL, dim_room

    folder = photo_folder(tmp_path)
    close = {p.image_id.removesuffix("-closeup"): p.load() for p in resolve_split(f"closeup:{folder}").clean_photos()}
    split = resolve_split(f"dimroom:{folder}")
    photos = split.clean_photos()
    assert split.slug == f"dimroom-{folder.name}" and sorted(p.image_id for p in photos) == sorted(f"{i}-dimroom" for i in close)
    for photo in photos:
        room, seen = photo.load(), close[photo.image_id.removesuffix("-dimroom")]
        np.testing.assert_array_equal(room, photo.load())  # the same room every time
        if seen.mean() > ROOM_LEVEL[1]:
            assert ROOM_LEVEL[0] - 0.02 <= room.mean() <= ROOM_LEVEL[1] + 0.02
        assert room.mean() <= seen.mean() + 1e-6
        # darker in linear light by one gain: the colours' ratios are kept where nothing clipped
        gain = srgb_to_linear(room) / np.maximum(srgb_to_linear(seen), 1e-3)
        lit = srgb_to_linear(seen) > 0.05
        assert gain[lit].std() < 0.01
    night = np.full((16, 16, 3), 0.05, np.float32)
    np.testing.assert_array_equal(dim_room(night, np.random.default_rng(0)), night)  # darker than any room: kept as it is


def test_two_workers_write_the_same_pairs_as_one_and_skip_a_bad_photo_alike(tmp_path, bad_files):
    split = resolve_split(f"folder:{photo_folder(tmp_path, bad_files)}")
    config = SynthesisConfig(seed=3, categories=("clear", "low", "haze_rain", "snow"), max_side=32, variants=2)
    progress = []
    one = build_pairs(split, tmp_path / "one", config)
    two = build_pairs(split, tmp_path / "two", config, lambda done, total: progress.append((done, total)), workers=2)
    assert one.built == two.built == 3 and len(one.failures) == len(two.failures) == len(bad_files)
    assert progress[-1] == (3 + len(bad_files), 3 + len(bad_files))
    manifest = [(one.pairs_dir / MANIFEST).read_text(), (two.pairs_dir / MANIFEST).read_text()]
    assert manifest[0] == manifest[1]  # paths inside the manifest are relative to its folder
    for a, b in zip(one.rows, two.rows, strict=True):
        np.testing.assert_array_equal(load_image(a.degraded).rgb, load_image(b.degraded).rgb)
