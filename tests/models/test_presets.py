"""The paper's presets (graphmdn_tf/models/presets.py) build the paper's architectures, and overrides work."""

import numpy as np
import pytest

from graphmdn_tf import MODEL_PRESETS, TRAINING_PRESETS, GraphMDN, SemGCN

# The architectures as the paper states them, written out here rather than read from MODEL_PRESETS:
# preset -> (hidden_dim, residual blocks, kernels, dropout); non-local blocks in all of them.
PAPER = {
    "standard": (128, 4, 5, 0.1),  # Table 1 "Ours": 4 residual blocks x 128, 5 kernels
    "wide": (512, 3, 5, 0.1),  # Tables 1-3 "Wide": 3 residual blocks x 512, 5 kernels
    "k8": (128, 4, 8, 0.1),  # Table 3 "Ours (8)": the standard backbone, 8 kernels
    "k200": (
        512,
        3,
        200,
        0.5,
    ),  # Table 3 "Ours (Wide, 200)": the wide backbone, 200 kernels, dropout 0.5 (Section 5.2)
}


def _param_count_analytic(hidden, blocks, kernels, input_dim=2, target_dim=3, edges=46):
    def conv(i, o):
        return 2 * i * o + edges + o

    def non_local(c):
        inter = c // 2
        return 3 * (c * inter + inter) + 2 * inter + inter * c + c + 4 * c

    block = conv(input_dim, hidden) + 4 * hidden
    residual = 2 * (conv(hidden, hidden) + 4 * hidden)
    return (
        block
        + non_local(hidden)
        + blocks * (residual + non_local(hidden))
        + conv(hidden, (target_dim + 2) * kernels)
    )


def _backbone_sizes(model):
    """(hidden_dim, residual blocks, non-local blocks, dropout) read from the built layers."""
    backbone = model.backbone
    widths = {backbone.input_block.conv.units}
    widths |= {
        conv.units
        for block in backbone.residual_blocks
        for conv in (block.block1.conv, block.block2.conv)
    }
    assert len(widths) == 1, widths
    dropouts = {
        block.dropout
        for residual in backbone.residual_blocks
        for block in (residual.block1, residual.block2)
    }
    assert dropouts == {backbone.input_block.dropout}, dropouts
    non_local = (
        [backbone.input_non_local, *backbone.non_local_blocks] if backbone.input_non_local else []
    )
    return widths.pop(), len(backbone.residual_blocks), len(non_local), backbone.input_block.dropout


def test_every_preset_is_a_paper_configuration_with_a_schedule():
    assert set(MODEL_PRESETS) == set(PAPER) == set(TRAINING_PRESETS)


@pytest.mark.parametrize("preset", sorted(PAPER))
def test_a_graphmdn_preset_builds_the_papers_layers(rng, preset):
    hidden, blocks, kernels, dropout = PAPER[preset]
    model = GraphMDN.from_preset(preset)
    model.build((None, 16, 2))
    assert _backbone_sizes(model) == (hidden, blocks, 1 + blocks, dropout)
    assert (model.head.num_kernels, model.head.projection.units) == (kernels, (3 + 2) * kernels)
    assert model.count_params() == _param_count_analytic(hidden, blocks, kernels)
    outputs = model(rng.normal(size=(2, 16, 2)).astype("float32"), training=False)
    assert outputs["mu"].shape == (2, kernels, 16, 3) and outputs["pi_logits"].shape == (2, kernels)


@pytest.mark.parametrize("preset", ["standard", "wide"])
def test_a_semgcn_preset_builds_the_same_backbone_without_kernels(preset):
    hidden, blocks, _, dropout = PAPER[preset]
    model = SemGCN.from_preset(preset)
    model.build((None, 16, 2))
    assert _backbone_sizes(model) == (hidden, blocks, 1 + blocks, dropout)
    assert model.output_conv.units == 3 and "num_kernels" not in model.get_config()


def test_overrides_take_effect_and_leave_the_preset_alone():
    model = GraphMDN.from_preset(
        "wide", num_blocks=1, num_kernels=8, mixture_level="node", non_local=False, dropout=0.3
    )
    model.build((None, 16, 2))
    assert _backbone_sizes(model) == (512, 1, 0, 0.3)
    assert (model.head.num_kernels, model.head.mixture_level) == (8, "node")
    outputs = model(np.zeros((1, 16, 2), "float32"), training=False)
    assert outputs["sigma"].shape == (1, 8, 16)
    semgcn = SemGCN.from_preset("k200", hidden_dim=16)
    assert _backbone_sizes(semgcn) == (16, 3, 4, 0.5)
    assert (
        GraphMDN.from_preset("wide").num_kernels == 5 and MODEL_PRESETS["wide"]["num_blocks"] == 3
    )


@pytest.mark.parametrize("cls", [GraphMDN, SemGCN])
def test_an_unknown_preset_raises(cls):
    with pytest.raises(
        ValueError,
        match=r"Unknown preset 'huge'\. Expected one of \['k200', 'k8', 'standard', 'wide'\]",
    ):
        cls.from_preset("huge")


@pytest.mark.parametrize(
    "cls, overrides, message",
    [
        (
            GraphMDN,
            {"hiden_dim": 64},
            r"Unrecognized keyword arguments passed to GraphMDN: \{'hiden_dim': 64\}",
        ),
        (
            SemGCN,
            {"num_kernels": 8},
            r"Unrecognized keyword arguments passed to SemGCN: \{'num_kernels': 8\}",
        ),
        (
            SemGCN,
            {"mixture_level": "node"},
            r"Unrecognized keyword arguments passed to SemGCN: \{'mixture_level': 'node'\}",
        ),
    ],
)
def test_an_unknown_override_raises(cls, overrides, message):
    with pytest.raises(ValueError, match=message):
        cls.from_preset("standard", **overrides)
