"""The authors' GraphMDN and SemGCN checkpoints into `GraphMDN` / `SemGCN` and run directories.

Both published implementations share one module tree (SemGCN's `SemGCN`, GraphMDN's
`SemGCN_MDN_Graph`), by parameter name:
    gconv_input.0            graph-conv block 2 -> hidden (`gconv.W` [2, in, out], `gconv.e` [1, E],
                             `gconv.bias`, `bn.{weight,bias,running_mean,running_var}`)
    gconv_input.1            non-local block, only with non-local blocks (`<nl>.{g.0,theta,phi.0}` 1x1
                             convs [out, in, 1], `<nl>.concat_project.0.weight` [1, 2*inter, 1, 1],
                             `<nl>.W.0.{weight,bias}`, `<nl>.W.1.*` BatchNorm), where <nl> is
                             `non_local` in GraphMDN and `nonlocal` in SemGCN (its Python 2 code)
    gconv_layers.{i}         with non-local blocks: residual block i/2 at even i (`gconv1`, `gconv2`,
                             each a graph-conv block), non-local block at odd i; without: residual
                             block i
    gconv_output             SemGraphConv hidden -> 3 (SemGCN) or (3 + 1 + 1) * M (GraphMDN: M means,
                             M sigma logits, M pi logits per node)

`reference_architecture(state_dict)` reads which of these a state dict holds, and its sizes, from its
names and shapes. The state dict does not say whether a GraphMDN was trained at pose level
(`--pose_level_pi --uniform_sigma`) or node level (the training script's default): that is the
`mixture_level` argument. Dropout (`p_dropout`) has no parameters and acts only in training.

Usage (reading `.pth.tar` needs the optional `torch` extra: `pip install "graphmdn-tf[torch]"`):

    graphmdn-tf convert ckpt_semgcn_nonlocal.pth.tar --run-dir runs/semgcn-nonlocal
    graphmdn-tf convert ckpt_best.pth.tar --mixture-level pose --run-dir runs/graphmdn-authors

    from graphmdn_tf.convert import from_reference_state_dict, read_reference_checkpoint
    state_dict = read_reference_checkpoint("ckpt_best.pth.tar")
    model = from_reference_state_dict(
        state_dict, hidden_dim=128, num_blocks=4, num_kernels=5, mixture_level="pose"
    )
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from graphmdn_tf.atomic import atomic_file, write_text_atomically
from graphmdn_tf.config import TrainingConfig
from graphmdn_tf.layers.levels import MIXTURE_LEVELS, level_keyword
from graphmdn_tf.runs import CONVERSION_FILE, RunDirectory
from graphmdn_tf.skeletons import h36m_graph

# BatchNorm's step counter is an integer buffer with no Keras counterpart; it is the only name ignored.
_IGNORED_SUFFIXES = ("num_batches_tracked",)
# The non-local module's attribute: GraphMDN's spelling, then SemGCN's (Python 2, where `nonlocal`
# is not yet a keyword).
NON_LOCAL_NAMES = ("non_local", "nonlocal")
REPOSITORIES = {"graphmdn": "vectra-ai-research/GraphMDN", "semgcn": "garyzhao/SemGCN"}
# Dropout of the converted model (active only when it is trained further): each repository's default.
DEFAULT_DROPOUT = {"graphmdn": 0.1, "semgcn": 0.0}


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

    def shape(self, name: str) -> tuple | None:
        """The shape of parameter `name`, None when there is none."""
        return tuple(np.shape(self.arrays[name])) if name in self.arrays else None

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
    p = f"{prefix}.{_non_local_name(source.arrays)}"
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


def _non_local_name(names) -> str:
    """The non-local module's attribute in these parameter names (GraphMDN's when there is none)."""
    for name in NON_LOCAL_NAMES:
        if any(key.startswith(f"gconv_input.1.{name}.") for key in names):
            return name
    return NON_LOCAL_NAMES[0]


def _load_backbone(backbone, source: _StateDict):
    """The reference's `gconv_input` and `gconv_layers` into a `SemGCNBackbone` (with or without
    non-local blocks, whose presence changes the numbering of `gconv_layers`)."""
    _load_graph_conv_block(backbone.input_block, source, "gconv_input.0")
    step = 2 if backbone.non_local else 1
    if backbone.non_local:
        _load_non_local(backbone.input_non_local, source, "gconv_input.1")
    for index, block in enumerate(backbone.residual_blocks):
        _load_graph_conv_block(block.block1, source, f"gconv_layers.{step * index}.gconv1")
        _load_graph_conv_block(block.block2, source, f"gconv_layers.{step * index}.gconv2")
        if backbone.non_local:
            _load_non_local(
                backbone.non_local_blocks[index], source, f"gconv_layers.{step * index + 1}"
            )


def from_reference_state_dict(
    state_dict: Mapping,
    *,
    hidden_dim: int,
    num_blocks: int,
    num_kernels: int,
    mixture_level: str | None = None,
    **model_kwargs,
):
    """A built `GraphMDN` (16-joint Human3.6M graph) holding the reference implementation's weights.

    Args:
        state_dict: the authors' PyTorch `state_dict` as a mapping from their parameter names to
            arrays (NumPy arrays, or anything `np.asarray` accepts). A `module.` prefix
            (DataParallel) is stripped; BatchNorm `num_batches_tracked` counters are ignored.
        hidden_dim, num_blocks, num_kernels, mixture_level: the reference run's architecture
            (its `--hid_dim`, `--num_layers`, number of Gaussians, 'pose' or 'node' level; the
            deprecated keyword `mixture` still works, with a `DeprecationWarning`).
        **model_kwargs: further `GraphMDN` arguments (e.g. `dropout`, `graph`, `non_local=False`).

    Raises:
        KeyError: a parameter the architecture needs is missing (named).
        ValueError: a parameter has the wrong shape, or parameters are left over.
    """
    from graphmdn_tf.models.graphmdn import GraphMDN

    level = level_keyword(mixture_level, model_kwargs, "from_reference_state_dict", default=None)
    model_kwargs.setdefault("graph", h36m_graph())
    model = GraphMDN(
        hidden_dim=hidden_dim,
        num_blocks=num_blocks,
        num_kernels=num_kernels,
        mixture_level=level,
        **model_kwargs,
    )
    return _with_reference_weights(model, state_dict, model.head.projection)


def semgcn_from_reference_state_dict(
    state_dict: Mapping, *, hidden_dim: int, num_blocks: int, non_local: bool, **model_kwargs
):
    """A built `SemGCN` (16-joint Human3.6M graph) holding the weights of SemGCN's published `SemGCN`.

    Args:
        state_dict: as for `from_reference_state_dict`.
        hidden_dim, num_blocks, non_local: the run's `--hid_dim`, `--num_layers` and `--non_local`.
        **model_kwargs: further `SemGCN` arguments (e.g. `dropout`).

    Raises:
        KeyError, ValueError: as `from_reference_state_dict`.
    """
    from graphmdn_tf.models.semgcn import SemGCN

    model_kwargs.setdefault("graph", h36m_graph())
    model = SemGCN(
        hidden_dim=hidden_dim, num_blocks=num_blocks, non_local=non_local, **model_kwargs
    )
    return _with_reference_weights(model, state_dict, model.output_conv)


def _with_reference_weights(model, state_dict: Mapping, output_conv):
    """`model`, built, with the state dict's backbone and `gconv_output` (into `output_conv`); every
    parameter of the state dict must be used."""
    model.build((None, model.graph.num_nodes, model.input_dim))
    source = _StateDict(state_dict)
    _load_backbone(model.backbone, source)
    _load_sem_graph_conv(output_conv, source, "gconv_output")
    source.check_all_used()
    return model


@dataclass(frozen=True)
class ReferenceArchitecture:
    """What a reference state dict holds, read from its names and shapes (`reference_architecture`).

    `model` is 'graphmdn' (vectra-ai-research/GraphMDN's `SemGCN_MDN_Graph`) or 'semgcn'
    (garyzhao/SemGCN's `SemGCN`); `num_kernels` is None for SemGCN.
    """

    model: str
    hidden_dim: int
    num_blocks: int
    non_local: bool
    num_kernels: int | None = None

    @property
    def repository(self) -> str:
        return REPOSITORIES[self.model]

    def describe(self) -> str:
        kernels = f", {self.num_kernels} kernels" if self.num_kernels else ""
        non_local = "with" if self.non_local else "without"
        return (
            f"{'GraphMDN' if self.model == 'graphmdn' else 'SemGCN'} ({self.repository}): hidden "
            f"{self.hidden_dim}, {self.num_blocks} residual blocks{kernels}, {non_local} non-local blocks"
        )


_NOT_A_REFERENCE = (
    "not a state dict of GraphMDN (vectra-ai-research/GraphMDN) or SemGCN (garyzhao/SemGCN)"
)


def reference_architecture(state_dict: Mapping) -> ReferenceArchitecture:
    """The architecture of a GraphMDN or SemGCN state dict, from its parameter names and shapes.

    hidden_dim: `gconv_input.0.gconv.W` [2, 2, hidden]; non-local: any `gconv_input.1.*`; residual
    blocks: the `gconv_layers.{i}.gconv1` modules; the model and its kernels: `gconv_output.W`
    [2, hidden, 3] for SemGCN, [2, hidden, 5M] for GraphMDN with M kernels.

    Raises:
        ValueError: one line naming the parameter that fits neither model (its name and shape).
    """
    source = _StateDict(state_dict)
    names = list(source.arrays)
    first = source.shape("gconv_input.0.gconv.W")
    if first is None or len(first) != 3 or first[:2] != (2, 2):
        found = f"shape {first}" if first else f"no such parameter; found {names[:3]}"
        raise ValueError(
            f"{_NOT_A_REFERENCE}: expected gconv_input.0.gconv.W of shape [2, 2, hidden] ({found})"
        )
    hidden_dim = first[2]
    output = source.shape("gconv_output.W")
    if output is None or len(output) != 3 or output[:2] != (2, hidden_dim):
        raise ValueError(
            f"{_NOT_A_REFERENCE}: expected gconv_output.W of shape [2, {hidden_dim}, 3 or 5M] "
            f"(got {output or 'no such parameter'})"
        )
    non_local = any(name.startswith("gconv_input.1.") for name in names)
    residual = sorted(
        {
            int(match.group(1))
            for name in names
            if (match := re.match(r"gconv_layers\.(\d+)\.gconv1\.", name))
        }
    )
    step = 2 if non_local else 1
    if residual != list(range(0, step * len(residual), step)):
        raise ValueError(
            f"{_NOT_A_REFERENCE}: residual blocks at gconv_layers.{residual} "
            f"(expected gconv_layers.{{0, {step}, {2 * step}, ...}} "
            f"{'with' if non_local else 'without'} non-local blocks)"
        )
    features = output[2]
    if features == 3:
        return ReferenceArchitecture("semgcn", hidden_dim, len(residual), non_local)
    if features % 5 == 0:
        return ReferenceArchitecture(
            "graphmdn", hidden_dim, len(residual), non_local, num_kernels=features // 5
        )
    multivariate = " (a --multivariate GraphMDN, 7M, is not supported)" if features % 7 == 0 else ""
    raise ValueError(
        f"{_NOT_A_REFERENCE}: gconv_output.W has {features} output features; expected 3 (SemGCN) "
        f"or 5 per kernel (GraphMDN){multivariate}"
    )


def model_from_reference(state_dict: Mapping, *, mixture_level: str | None = None, dropout=None):
    """(model, architecture): the `GraphMDN` or `SemGCN` a reference state dict holds, with its weights.

    Args:
        state_dict: the authors' state dict (see `from_reference_state_dict`).
        mixture_level: 'pose' or 'node' for a GraphMDN (the state dict does not say which); None
            for SemGCN.
        dropout: the model's dropout for further training (default: the repository's, `DEFAULT_DROPOUT`).

    Raises:
        ValueError: the state dict fits neither model, a GraphMDN without `mixture_level`, or a SemGCN
            with one.
    """
    architecture = reference_architecture(state_dict)
    backbone = {
        "hidden_dim": architecture.hidden_dim,
        "num_blocks": architecture.num_blocks,
        "non_local": architecture.non_local,
        "dropout": DEFAULT_DROPOUT[architecture.model] if dropout is None else float(dropout),
    }
    if architecture.model == "semgcn":
        if mixture_level is not None:
            raise ValueError(
                f"{architecture.describe()}: a SemGCN predicts one pose and has no mixture level; "
                f"leave mixture_level (--mixture-level) out. Received: mixture_level={mixture_level!r}"
            )
        return semgcn_from_reference_state_dict(state_dict, **backbone), architecture
    if mixture_level not in MIXTURE_LEVELS:
        raise ValueError(
            f"{architecture.describe()}: its checkpoint does not record the mixture level; pass "
            f"mixture_level='pose' (trained with --pose_level_pi --uniform_sigma) or 'node' (the "
            f"training script's default) (--mixture-level). Received: mixture_level={mixture_level!r}"
        )
    model = from_reference_state_dict(
        state_dict, num_kernels=architecture.num_kernels, mixture_level=mixture_level, **backbone
    )
    return model, architecture


def convert_checkpoint(
    checkpoint,
    run_dir,
    *,
    mixture_level: str | None = None,
    dropout: float | None = None,
    **data,
) -> tuple:
    """(run, architecture): a finished run directory written from the authors' GraphMDN or SemGCN
    `.pth.tar` checkpoint, and the `ReferenceArchitecture` read from it.

    The run holds what `evaluate`, `lift` and `export` read: config.json (the architecture read from
    the state dict, and the data to evaluate on), model.keras (written last), and conversion.json
    (the source file, its SHA-256, the repository, the architecture and the checkpoint's epoch and
    error when it has them).

    Args:
        checkpoint: the `.pth.tar` file (`read_reference_checkpoint`).
        run_dir: a new or empty folder.
        mixture_level, dropout: see `model_from_reference` (the deprecated keyword `mixture` still
            works, with a `DeprecationWarning`).
        **data: `TrainingConfig` data fields of the run (`dataset`, `data_dir`, `keypoints`,
            `train_subjects`, `test_subjects`, ...; default: the built-in synthetic set).

    Raises:
        FileExistsError: `run_dir` is a file or holds anything.
        ValueError: the checkpoint fits neither model, a GraphMDN without `mixture_level`, a bad data
            field.
    """
    mixture_level = level_keyword(mixture_level, data, "convert_checkpoint", default=None)
    run = RunDirectory(run_dir)
    _refuse_used(run)
    checkpoint = Path(checkpoint)
    unknown = sorted(set(data) - set(TrainingConfig.__dataclass_fields__))
    if unknown:
        raise ValueError(f"Unknown TrainingConfig field(s) {unknown}")
    contents = read_reference_checkpoint(checkpoint, with_metadata=True)
    try:
        model, architecture = model_from_reference(
            contents["state_dict"], mixture_level=mixture_level, dropout=dropout
        )
    except (KeyError, ValueError) as error:
        reason = error.args[0] if error.args else error  # (a KeyError's str() adds quotes)
        raise ValueError(f"{checkpoint}: {reason}") from None
    config = TrainingConfig(
        model=architecture.model,
        mixture_level=mixture_level if architecture.model == "graphmdn" else "pose",
        hidden_dim=architecture.hidden_dim,
        num_blocks=architecture.num_blocks,
        num_kernels=architecture.num_kernels or TrainingConfig.num_kernels,
        dropout=model.dropout,
        **data,
    )
    record = {
        "converted_from": str(checkpoint.resolve()),
        "sha256": hashlib.sha256(checkpoint.read_bytes()).hexdigest(),
        "repository": architecture.repository,
        "architecture": asdict(architecture),
        "mixture_level": mixture_level if architecture.model == "graphmdn" else None,
        **{key: contents[key] for key in ("epoch", "step", "error") if key in contents},
    }
    _refuse_used(run)
    run.path.mkdir(parents=True, exist_ok=True)
    config.to_json(run.config_path)
    write_text_atomically(run.path / CONVERSION_FILE, json.dumps(record, indent=2) + "\n")
    with atomic_file(run.model_path) as temporary:
        model.save(temporary)  # the run is finished once this file is in place
    return run, architecture


def _refuse_used(run: RunDirectory):
    if run.path.exists() and (not run.path.is_dir() or any(run.path.iterdir())):
        kind = "is a file" if not run.path.is_dir() else "is not empty"
        raise FileExistsError(
            f"--run-dir {run.path} {kind}; a converted checkpoint goes into a new or empty folder "
            "(nothing was changed)"
        )


def read_reference_checkpoint(path, *, with_metadata: bool = False) -> dict:
    """Read the authors' `.pth.tar` checkpoint into {name: np.ndarray} (needs PyTorch installed).

    The file is opened with `torch.load(weights_only=True)`, which refuses arbitrary pickled code.
    A checkpoint dict with a `state_dict` entry (as both repositories' training scripts write, with
    `epoch`, `lr`, `step`, `optimizer` and `error`) or a bare state_dict are both accepted. With
    `with_metadata`, the result is {'state_dict': ..., and the checkpoint's numeric `epoch`, `step`,
    `error`}.
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
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 (a damaged or foreign file fails anywhere in torch.load)
        reason = " ".join(str(error).split())[:300]
        raise ValueError(
            f"{path}: not a readable PyTorch checkpoint ({type(error).__name__}: {reason})"
        ) from None
    state_dict = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state_dict, dict):
        raise ValueError(f"{path}: expected a state_dict or a checkpoint dict with 'state_dict'.")
    arrays = {
        name: value.detach().cpu().numpy()
        for name, value in state_dict.items()
        if hasattr(value, "detach")
    }
    if not with_metadata:
        return arrays
    metadata = {
        key: float(checkpoint[key]) if key == "error" else int(checkpoint[key])
        for key in ("epoch", "step", "error")
        if state_dict is not checkpoint and isinstance(checkpoint.get(key), (int, float))
    }
    return {"state_dict": arrays, **metadata}
