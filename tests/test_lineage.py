"""A fine-tuned model file records every stage that led to it, and old files can be given that record."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from realtime_style.errors import ModelError
from realtime_style.models.store import ModelInfo, load_model, read_info, save_model
from realtime_style.models.transformer import ARCHITECTURES, TransformerNet
from realtime_style.training.lineage import attach_lineage, main
from realtime_style.training.provenance import sha256_file


def write_model(path: Path, seed: int, iterations: int, training: dict) -> Path:
    """A light net with random weights and the given training facts."""
    torch.manual_seed(seed)
    info = ModelInfo(style="test", arch="light", config=ARCHITECTURES["light"], iterations=iterations, training=training)
    return save_model(path, TransformerNet(ARCHITECTURES["light"]), info)


@pytest.fixture
def chain(tmp_path: Path) -> tuple[Path, Path, Path]:
    """grandparent (from scratch) -> parent -> child, none with a lineage yet."""
    grandparent = write_model(tmp_path / "a.safetensors", 0, 3000, {"wall_time_s": 4000.0, "hardware": "cpu A"})
    parent_training = {"wall_time_s": 1000.0, "init_sha256": sha256_file(grandparent)}
    parent = write_model(tmp_path / "b.safetensors", 1, 800, parent_training)
    child = write_model(tmp_path / "c.safetensors", 2, 330, {"wall_time_s": 1800.0, "init_sha256": sha256_file(parent)})
    return grandparent, parent, child


def test_attached_lineage_lists_every_ancestor_oldest_first_with_totals(chain):
    grandparent, parent, child = chain
    parent_sha = sha256_file(parent)
    before = load_model(child).net.state_dict()
    attach_lineage(child, [parent, grandparent])
    facts = read_info(child).training
    assert [entry["iterations"] for entry in facts["lineage"]] == [3000, 800]
    assert facts["lineage"][0]["hardware"] == "cpu A" and facts["lineage"][1]["sha256"] == parent_sha
    assert facts["total_iterations"] == 3000 + 800 + 330
    assert facts["total_wall_time_s"] == 4000.0 + 1000.0 + 1800.0
    after = load_model(child).net.state_dict()
    assert all(torch.equal(before[key], after[key]) for key in before)


def test_a_file_that_is_not_the_recorded_init_is_refused_and_nothing_changes(chain, capsys):
    grandparent, parent, child = chain
    before = child.read_bytes()
    with pytest.raises(ModelError, match="not the file its child was fine-tuned from"):
        attach_lineage(child, [grandparent])
    with pytest.raises(ModelError, match="not the file its child was fine-tuned from"):
        attach_lineage(child, [grandparent, parent])
    assert main([str(child), str(grandparent)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert main([str(child), str(child.parent / "missing.safetensors")]) == 2
    assert "missing.safetensors" in capsys.readouterr().err
    assert child.read_bytes() == before


def test_a_chain_cannot_go_past_a_model_trained_from_scratch(chain):
    grandparent, parent, child = chain
    with pytest.raises(ModelError, match="no init_sha256"):
        attach_lineage(grandparent, [parent])
    with pytest.raises(ModelError, match="no init_sha256"):
        attach_lineage(child, [parent, grandparent, parent])


def test_fine_tuning_from_an_annotated_file_extends_its_lineage(chain):
    """What training records for --init: the init file's own lineage, then the file itself."""
    from realtime_style.training.lineage import ancestry

    grandparent, parent, _ = chain
    attach_lineage(parent, [grandparent])
    lineage = ancestry(parent)
    assert [entry["iterations"] for entry in lineage] == [3000, 800]
    assert lineage[-1]["sha256"] == sha256_file(parent) and lineage[-1]["init_sha256"] == sha256_file(grandparent)
