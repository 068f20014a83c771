"""The stages end to end through their contract: stage two runs real stage one for a checkpoint."""

import torch

from shared.assessor import AssessorConfig, AssessorNet
from shared.contract import write_binding
from stage1_embed.embedders import E5VEmbedder, fingerprint_of
from stage1_embed.embedders.tiny_llava import build_tiny_llava
from stage1_embed.prompter import PromptGenerator
from stage2_restore.network import Restorer, RestorerConfig
from stage2_restore.photos import PhotoJob, restore_photos
from tests.conftest import write_photo


def test_restore_with_an_e5v_checkpoint_loaded_from_a_folder_and_its_own_prompter(tmp_path):
    """The checkpoint names a folder-loaded E5-V (revision "local:<digest>") and a prompter that is not the shipped one."""
    llava = build_tiny_llava(tmp_path / "tiny-llava")
    torch.manual_seed(0)
    prompter = PromptGenerator(AssessorNet(AssessorConfig(widths=(8, 16, 32), feature_dim=32, view_size=64)))
    prompter.save_pretrained(tmp_path / "prompter")
    fingerprint = fingerprint_of(E5VEmbedder(str(llava), quant="none", device="cpu"), prompter)
    assert fingerprint.weights_revision.startswith("local:") and fingerprint.model_locator == str(llava.resolve())

    checkpoint = tmp_path / "restorer"
    Restorer(RestorerConfig(width=8, heads=2, descriptor_tokens=2, embedding_dim=fingerprint.dim)).save_pretrained(checkpoint)
    write_binding(checkpoint, fingerprint)
    photo = write_photo(tmp_path / "p.png", 32, 40, seed=1)
    [result] = restore_photos([PhotoJob(photo, tmp_path / "out.png")], checkpoint)
    assert result.status == "restored", result.error
    assert (tmp_path / "out.png").is_file()
