"""Weights from the authors' PyTorch GraphMDN (SemGCN backbone + MDN output) into a `GraphMDN`.

The reference module tree, by parameter name:
    gconv_input.0            graph-conv block 2 -> hidden (`gconv.W` [2, in, out], `gconv.e` [1, E],
                             `gconv.bias`, `bn.{weight,bias,running_mean,running_var}`)
    gconv_input.1            non-local block (`non_local.{g.0,theta,phi.0}.{weight,bias}` 1x1 convs
                             [out, in, 1], `non_local.concat_project.0.weight` [1, 2*inter, 1, 1],
                             `non_local.W.0.{weight,bias}`, `non_local.W.1.*` BatchNorm)
    gconv_layers.{2i}        residual block i (`gconv1`, `gconv2`, each a graph-conv block)
    gconv_layers.{2i+1}      non-local block i
    gconv_output             SemGraphConv hidden -> (3 + 2) * K (`W`, `e`, `bias`)

Usage with the authors' checkpoint (needs the optional `torch` extra: `pip install -e ".[torch]"`):

    from graphmdn_tf.convert import from_reference_state_dict, read_reference_checkpoint
    state_dict = read_reference_checkpoint("ckpt_best.pth.tar")
    model = from_reference_state_dict(state_dict, hidden_dim=128, num_blocks=4, num_kernels=5, mixture="pose")
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from graphmdn_tf.skeletons import h36m_graph

# BatchNorm's step counter is an integer buffer with no Keras counterpart; it is the only name ignored.
_IGNORED_SUFFIXES = ("num_batches_tracked",)


class _StateDict:
    """Name -> float32 array, recording which names were used so that leftovers are reported."""

    def __init__(self, state_dict: Mapping):
        names = list(state_dict)
        prefix = (
            "module." if names and all(n.startswith("module.") for n in names) else ""
        )  # DataParallel
        self.arrays = {
            n[len(prefix) :]: state_dict[n] for n in names if not n.endswith(_IGNORED_SUFFIXES)
        }
        self.used = set()

    def take(self, name: str, shape: tuple) -> np.ndarray:
        if name not in self.arrays:
            raise KeyError(
                f"The reference state_dict has no parameter {name!r} (expected shape {shape})."
            )
        array = np.asarray(self.arrays[name], dtype=np.float32)
        if array.shape != tuple(shape):
            raise ValueError(
                f"Reference parameter {name!r} has shape {array.shape}; expected {tuple(shape)} for the "
                "requested hidden_dim / num_blocks / num_kernels."
            )
        self.used.add(name)
        return array

    def check_all_used(self):
        unused = sorted(set(self.arrays) - self.used)
        if unused:
            raise ValueError(
                f"{len(unused)} reference parameters were not used (architecture mismatch?): {unused[:8]}"
            )


def _assign(variable, value: np.ndarray):
    variable.assign(value.reshape(tuple(variable.shape)))


def _load_sem_graph_conv(layer, source: _StateDict, prefix: str):
    in_dim, out_dim = layer.self_kernel.shape
    kernel = source.take(f"{prefix}.W", (2, in_dim, out_dim))
    _assign(layer.self_kernel, kernel[0])
    _assign(layer.neighbor_kernel, kernel[1])
    _assign(layer.edge_logits, source.take(f"{prefix}.e", (1, layer.num_edges))[0])
    _assign(layer.bias, source.take(f"{prefix}.bias", (out_dim,)))


def _load_batch_norm(layer, source: _StateDict, prefix: str):
    size = layer.gamma.shape[0]
    _assign(layer.gamma, source.take(f"{prefix}.weight", (size,)))
    _assign(layer.beta, source.take(f"{prefix}.bias", (size,)))
    _assign(layer.moving_mean, source.take(f"{prefix}.running_mean", (size,)))
    _assign(layer.moving_variance, source.take(f"{prefix}.running_var", (size,)))


def _load_graph_conv_block(block, source: _StateDict, prefix: str):
    _load_sem_graph_conv(block.conv, source, f"{prefix}.gconv")
    _load_batch_norm(block.norm, source, f"{prefix}.bn")


def _load_non_local(layer, source: _StateDict, prefix: str):
    channels, inter = layer.g_kernel.shape
    p = f"{prefix}.non_local"
    for ours, theirs in (("g", "g.0"), ("theta", "theta"), ("phi", "phi.0")):
        _assign(
            getattr(layer, f"{ours}_kernel"),
            source.take(f"{p}.{theirs}.weight", (inter, channels, 1))[:, :, 0].T,
        )
        _assign(getattr(layer, f"{ours}_bias"), source.take(f"{p}.{theirs}.bias", (inter,)))
    _assign(
        layer.concat_kernel,
        source.take(f"{p}.concat_project.0.weight", (1, 2 * inter, 1, 1)).reshape(-1),
    )
    _assign(layer.output_kernel, source.take(f"{p}.W.0.weight", (channels, inter, 1))[:, :, 0].T)
    _assign(layer.output_bias, source.take(f"{p}.W.0.bias", (channels,)))
    _load_batch_norm(layer.output_norm, source, f"{p}.W.1")


def from_reference_state_dict(
    state_dict: Mapping,
    *,
    hidden_dim: int,
    num_blocks: int,
    num_kernels: int,
    mixture: str,
    **model_kwargs,
):
    """A built `GraphMDN` (16-joint Human3.6M graph) holding the reference implementation's weights.

    Args:
        state_dict: the authors' PyTorch `state_dict` as a mapping from their parameter names to
            arrays (NumPy arrays, or anything `np.asarray` accepts). A `module.` prefix
            (DataParallel) is stripped; BatchNorm `num_batches_tracked` counters are ignored.
        hidden_dim, num_blocks, num_kernels, mixture: the reference run's architecture
            (its `--hid_dim`, `--num_layers`, number of Gaussians, pose or node level).
        **model_kwargs: further `GraphMDN` arguments (e.g. `dropout`, `graph`).

    Raises:
        KeyError: a parameter the architecture needs is missing (named).
        ValueError: a parameter has the wrong shape, or parameters are left over.
    """
    from graphmdn_tf.models.graphmdn import GraphMDN

    model_kwargs.setdefault("graph", h36m_graph())
    model = GraphMDN(
        hidden_dim=hidden_dim,
        num_blocks=num_blocks,
        num_kernels=num_kernels,
        mixture=mixture,
        **model_kwargs,
    )
    model.build((None, model.graph.num_nodes, model.input_dim))
    source = _StateDict(state_dict)
    backbone = model.backbone
    _load_graph_conv_block(backbone.input_block, source, "gconv_input.0")
    _load_non_local(backbone.input_non_local, source, "gconv_input.1")
    for index in range(num_blocks):
        block = backbone.residual_blocks[index]
        _load_graph_conv_block(block.block1, source, f"gconv_layers.{2 * index}.gconv1")
        _load_graph_conv_block(block.block2, source, f"gconv_layers.{2 * index}.gconv2")
        _load_non_local(backbone.non_local_blocks[index], source, f"gconv_layers.{2 * index + 1}")
    _load_sem_graph_conv(model.head.projection, source, "gconv_output")
    source.check_all_used()
    return model


def read_reference_checkpoint(path) -> dict:
    """Read the authors' `.pth.tar` checkpoint into {name: np.ndarray} (needs PyTorch installed).

    The file is opened with `torch.load(weights_only=True)`, which refuses arbitrary pickled code.
    A checkpoint dict with a `state_dict` entry (as the reference's training script writes) or a
    bare state_dict are both accepted.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint file at {path}")
    try:
        import torch
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(
            "Reading a PyTorch checkpoint needs torch: pip install 'graphmdn-tf[torch]' "
            "(or pass the state_dict as NumPy arrays to from_reference_state_dict)."
        ) from error
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    state_dict = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state_dict, dict):
        raise ValueError(f"{path}: expected a state_dict or a checkpoint dict with 'state_dict'.")
    return {
        name: value.detach().cpu().numpy()
        for name, value in state_dict.items()
        if hasattr(value, "detach")
    }
