import pytest
import torch

from shared.assessor import AssessorConfig, AssessorNet
from shared.pairs import SynthesisConfig, build_pairs
from shared.splits import resolve_split
from stage1_embed.embedders.tiny_llava import build_tiny_llava
from stage1_embed.prompter import PromptGenerator
from tests.conftest import write_photo


@pytest.fixture(scope="session")
def tiny_llava(tmp_path_factory):
    return build_tiny_llava(tmp_path_factory.mktemp("tiny-llava"))


@pytest.fixture(scope="session")
def prompter_dir(tmp_path_factory):
    """A small, untrained (seeded) pseudo-prompt generator saved like the shipped one."""
    torch.manual_seed(0)
    net = AssessorNet(AssessorConfig(widths=(8, 16, 32), feature_dim=32, view_size=64))
    return PromptGenerator(net).save_pretrained(tmp_path_factory.mktemp("prompter") / "p")


@pytest.fixture
def prompter(prompter_dir):
    return PromptGenerator.from_pretrained(prompter_dir)


@pytest.fixture
def tiny_split(tmp_path):
    """Five photos x two categories of pairs, built under tmp_path/cache."""
    folder = tmp_path / "photos"
    for i in range(5):
        write_photo(folder / f"p{i}.png", 40, 56, seed=i)
    split = resolve_split(f"folder:{folder}")
    report = build_pairs(split, tmp_path / "cache", SynthesisConfig(seed=0, categories=("low", "haze_rain"), max_side=64))
    assert len(report.rows) == 10
    return split, report.rows
