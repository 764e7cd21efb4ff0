"""`graphmdn_tf.convert` against state dicts and outputs of the authors' own PyTorch code.

tests/fixtures/convert/*.npz were written by tools/make_convert_fixtures.py running the published
model classes (vectra-ai-research/GraphMDN `SemGCN_MDN_Graph`, garyzhao/SemGCN `SemGCN`) with seeded
random weights (see tests/fixtures/convert/README.md).
"""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from graphmdn_tf.convert import (
    ReferenceArchitecture,
    convert_checkpoint,
    model_from_reference,
    read_reference_checkpoint,
    reference_architecture,
)
from graphmdn_tf.runs import RunDirectory

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "convert"
# fixture: (mixture level passed, the architecture the state dict must be read as)
VARIANTS = {
    "graphmdn_pose_hid16_l1_k3": ("pose", ReferenceArchitecture("graphmdn", 16, 1, True, 3)),
    "graphmdn_node_hid32_l2_k2": ("node", ReferenceArchitecture("graphmdn", 32, 2, True, 2)),
    "semgcn_hid16_l2": (None, ReferenceArchitecture("semgcn", 16, 2, False)),
    "semgcn_nonlocal_hid32_l1": (None, ReferenceArchitecture("semgcn", 32, 1, True)),
}


def _fixture(name):
    data = np.load(FIXTURES / f"{name}.npz")
    state_dict = {key[2:]: data[key] for key in data.files if key.startswith("w/")}
    return data, state_dict


def _save_checkpoint(state_dict, path, legacy=False):
    """A .pth.tar in the layout both repositories' `save_ckpt` write; `legacy`: in the serialization
    PyTorch wrote before 1.6 (not a zip file), as SemGCN's releases (PyTorch 1.1) are."""
    tensors = {name: torch.from_numpy(np.array(value)) for name, value in state_dict.items()}
    parameters = [torch.nn.Parameter(torch.zeros(2))]
    optimizer = torch.optim.Adam(parameters)
    checkpoint = {"epoch": 30, "lr": 1e-3, "step": 1200, "state_dict": tensors}
    checkpoint = {**checkpoint, "optimizer": optimizer.state_dict(), "error": 0.0432}
    torch.save(checkpoint, path, _use_new_zipfile_serialization=not legacy)
    return path


def _reference_outputs(data, mixture_level):
    """The reference's outputs in our layout: mu [B, K, N, 3]; sigma, pi_logits [B, K] or [B, K, N]."""
    if "pose" in data.files:
        return {"pose": data["pose"]}
    mu = np.transpose(data["mu"], (0, 2, 1, 3))
    sigma, pi = data["sigma"][..., 0], data["pi"]  # [B, N, K]
    if mixture_level == "pose":  # the reference repeats the node average on every node
        return {"mu": mu, "sigma": sigma[:, 0], "pi_logits": pi[:, 0]}
    return {"mu": mu, "sigma": sigma.transpose(0, 2, 1), "pi_logits": pi.transpose(0, 2, 1)}


def _check_outputs(outputs, data, mixture_level):
    expected = _reference_outputs(data, mixture_level)
    if "pose" in expected:
        outputs = {"pose": outputs}
    assert sorted(outputs) == sorted(expected)
    for key, value in expected.items():
        np.testing.assert_allclose(np.asarray(outputs[key]), value, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_each_published_variant_converts_to_the_reference_outputs(name):
    level, architecture = VARIANTS[name]
    data, state_dict = _fixture(name)
    assert reference_architecture(state_dict) == architecture
    model, read = model_from_reference(state_dict, mixture_level=level)
    assert read == architecture
    assert (model.hidden_dim, model.num_blocks, model.non_local) == (
        architecture.hidden_dim,
        architecture.num_blocks,
        architecture.non_local,
    )
    _check_outputs(model(data["input"], training=False), data, level)


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_a_checkpoint_converts_to_a_run_that_reloads_with_the_reference_outputs(name, tmp_path):
    level, architecture = VARIANTS[name]
    data, state_dict = _fixture(name)
    legacy = architecture.model == "semgcn"
    checkpoint = _save_checkpoint(state_dict, tmp_path / "ckpt_best.pth.tar", legacy=legacy)
    run, read = convert_checkpoint(checkpoint, tmp_path / "run", mixture_level=level)
    assert read == architecture and run.is_finished()
    config = run.load_config()
    assert (config.model, config.hidden_dim, config.num_blocks) == (
        architecture.model,
        architecture.hidden_dim,
        architecture.num_blocks,
    )
    assert config.dropout == {"graphmdn": 0.1, "semgcn": 0.0}[architecture.model]
    if architecture.model == "graphmdn":
        assert (config.num_kernels, config.mixture_level) == (architecture.num_kernels, level)
    record = json.loads((run.path / "conversion.json").read_text())
    assert record["converted_from"] == str(checkpoint.resolve())
    assert record["repository"] == architecture.repository and record["mixture_level"] == level
    assert (record["epoch"], record["step"], record["error"]) == (30, 1200, 0.0432)
    assert record["architecture"]["non_local"] is architecture.non_local
    import hashlib

    assert record["sha256"] == hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    _check_outputs(run.load_model()(data["input"], training=False), data, level)


def test_module_prefix_and_step_counters_are_read_as_the_training_script_leaves_them(tmp_path):
    data, state_dict = _fixture("semgcn_nonlocal_hid32_l1")
    assert "gconv_input.0.bn.num_batches_tracked" in state_dict  # saved by their code
    wrapped = {f"module.{name}": value for name, value in state_dict.items()}  # DataParallel
    model, _ = model_from_reference(wrapped)
    _check_outputs(model(data["input"], training=False), data, None)


def _without(state_dict, prefix):
    return {name: value for name, value in state_dict.items() if not name.startswith(prefix)}


def _with(state_dict, name, shape):
    return {**state_dict, name: np.zeros(shape, np.float32)}


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda sd: _without(sd, "gconv_input.0.gconv.W"),
            r"not a state dict of GraphMDN .* or SemGCN .*: expected gconv_input.0.gconv.W of shape "
            r"\[2, 2, hidden\] \(no such parameter; found",
        ),
        (
            lambda sd: _with(sd, "gconv_input.0.gconv.W", (2, 3, 16)),
            r"gconv_input.0.gconv.W of shape \[2, 2, hidden\] \(shape \(2, 3, 16\)\)",
        ),
        (
            lambda sd: _without(sd, "gconv_output."),
            r"expected gconv_output.W of shape \[2, 16, 3 or 5M\] \(got no such parameter\)",
        ),
        (
            lambda sd: _with(sd, "gconv_output.W", (2, 16, 4)),
            r"gconv_output.W has 4 output features; expected 3 \(SemGCN\) or 5 per kernel",
        ),
        (
            lambda sd: _with(sd, "gconv_output.W", (2, 16, 21)),
            r"21 output features.*a --multivariate GraphMDN, 7M, is not supported",
        ),
        (
            lambda sd: _without(sd, "gconv_layers.0."),
            r"residual blocks at gconv_layers.\[1\] \(expected gconv_layers.\{0, 1, 2, ...\} without",
        ),
    ],
)
def test_a_state_dict_that_fits_neither_model_is_refused_in_one_line(change, message):
    _, state_dict = _fixture("semgcn_hid16_l2")
    with pytest.raises(ValueError, match=message) as caught:
        reference_architecture(change(state_dict))
    assert "\n" not in str(caught.value)


def test_a_graphmdn_checkpoint_needs_its_mixture_level_and_a_partial_one_is_named(tmp_path):
    _, state_dict = _fixture("graphmdn_pose_hid16_l1_k3")
    checkpoint = _save_checkpoint(state_dict, tmp_path / "ckpt.pth.tar")
    with pytest.raises(
        ValueError, match=r"does not record the mixture level; pass mixture_level='pose'"
    ):
        convert_checkpoint(checkpoint, tmp_path / "run")
    assert not (tmp_path / "run").exists()
    damaged = _save_checkpoint(
        _without(state_dict, "gconv_layers.1.non_local.W.1.running_var"), tmp_path / "damaged.pth"
    )
    with pytest.raises(
        ValueError, match=r"damaged.pth: The reference state_dict has no parameter "
        r"'gconv_layers.1.non_local.W.1.running_var' \(expected shape \(16,\)\)",
    ):  # fmt: skip
        convert_checkpoint(damaged, tmp_path / "run", mixture_level="pose")
    extra = _save_checkpoint(_with(state_dict, "extra.weight", (3,)), tmp_path / "extra.pth")
    with pytest.raises(ValueError, match=r"1 reference parameters were not used .*'extra.weight'"):
        convert_checkpoint(extra, tmp_path / "run", mixture_level="pose")
    with (
        pytest.warns(DeprecationWarning, match=r"convert_checkpoint\(mixture=\.\.\.\)"),
        pytest.raises(ValueError, match=r"1 reference parameters were not used"),
    ):
        convert_checkpoint(extra, tmp_path / "run", mixture="pose")  # the old keyword still works
    assert not (tmp_path / "run").exists()


def test_a_used_run_directory_or_a_file_that_is_no_checkpoint_is_refused(tmp_path):
    _, state_dict = _fixture("semgcn_hid16_l2")
    checkpoint = _save_checkpoint(state_dict, tmp_path / "ckpt.pth.tar")
    used = tmp_path / "used"
    used.mkdir()
    (used / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match=r"--run-dir .*used is not empty; .* new or empty"):
        convert_checkpoint(checkpoint, used)
    assert [p.name for p in used.iterdir()] == ["notes.txt"]
    with pytest.raises(FileExistsError, match=r"--run-dir .*ckpt.pth.tar is a file"):
        convert_checkpoint(checkpoint, checkpoint)
    not_torch = tmp_path / "not.pth.tar"
    not_torch.write_text("hello")
    with pytest.raises(ValueError, match=r"not.pth.tar: not a readable PyTorch checkpoint"):
        read_reference_checkpoint(not_torch)
    with pytest.raises(ValueError, match=r"Unknown TrainingConfig field\(s\) \['subjects'\]"):
        convert_checkpoint(checkpoint, tmp_path / "run", subjects=("S1",))
    with pytest.raises(ValueError, match=r"SemGCN predicts one pose .* leave mixture_level .* out"):
        convert_checkpoint(checkpoint, tmp_path / "run", mixture_level="pose")
    with pytest.raises(ValueError, match=r"Expected data_dir"):
        convert_checkpoint(checkpoint, tmp_path / "run", dataset="h36m")
    assert not (tmp_path / "run").exists()
    run, _ = convert_checkpoint(checkpoint, tmp_path / "run")
    reopened = RunDirectory(run.path)
    assert reopened.is_finished() and reopened.converted_from() == str(checkpoint.resolve())
    assert RunDirectory(tmp_path).converted_from() is None  # not converted
    reopened.conversion_path.write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"conversion.json: damaged \(expected a JSON object"):
        reopened.converted_from()
