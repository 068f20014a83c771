import json

import pytest

from shared.config import load_config, save_config
from shared.degrade import DegradationModel
from shared.errors import ConfigError
from shared.pairs import SynthesisConfig


def test_round_trip_with_nested_dataclasses_and_tuples(tmp_path):
    config = SynthesisConfig(
        seed=5, categories=("low", "haze_rain"), per_image=1, model=DegradationModel(rain=("heavy", "drops"), shuffle_order=False)
    )
    save_config(config, tmp_path / "c.json")
    assert load_config(SynthesisConfig, tmp_path / "c.json") == config


def test_unknown_keys_are_rejected_with_the_file_and_choices(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"seed": 1, "sede": 2}))
    with pytest.raises(ConfigError, match=r"c\.json.*unknown key\(s\) sede.*known keys: seed"):
        load_config(SynthesisConfig, path)
    path.write_text(json.dumps({"model": {"wind": 3}}))
    with pytest.raises(ConfigError, match="model: unknown key.*wind"):
        load_config(SynthesisConfig, path)
    path.write_text(json.dumps({"model": {"rain": ["hail"]}}))
    with pytest.raises(ConfigError, match=r"c\.json: model: unknown rain family 'hail'; choose one of streaks, heavy, drops, soft, fine$"):
        load_config(SynthesisConfig, path)


def test_malformed_json_and_bad_values(tmp_path):
    path = tmp_path / "c.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config(SynthesisConfig, path)
    path.write_text(json.dumps({"categories": ["fog"]}))
    with pytest.raises(ConfigError, match="fog"):
        load_config(SynthesisConfig, path)


def test_configs_are_frozen():
    with pytest.raises(AttributeError):
        SynthesisConfig().seed = 3
