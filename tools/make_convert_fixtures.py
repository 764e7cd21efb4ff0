"""Make tests/fixtures/convert/*.npz: state dicts written by the authors' own PyTorch code, with its outputs.

Each fixture is one model class of a published repository, built as its training script builds it
(16-joint Human3.6M skeleton and joint groups from that repository's `common/h36m_dataset.py`,
adjacency from its `common/graph_utils.py`), given seeded random values in every parameter and buffer
(the published initialisation zeroes the non-local blocks' output BatchNorm, which would hide them),
and run once in inference mode (`model.eval()`) on a seeded input. The repositories are imported
from checkouts given on the command line, never copied:

    python tools/make_convert_fixtures.py --semgcn-repo PATH/SemGCN --graphmdn-repo PATH/GraphMDN \
        --out tests/fixtures/convert

SemGCN's code is Python 2 (`self.nonlocal`, the builtin `reduce`); its `models/sem_gcn.py` is
compiled with those two spellings adapted to Python 3 (`setattr`/`getattr` with the same attribute
name, so the state dict's names stay `...nonlocal...` as in the released checkpoints, and
`functools.reduce`). Nothing else is changed.

Keys of each .npz:
    input      float32 [4, 16, 2]   the normalised 2D joints fed to the model
    outputs    GraphMDN: mu [4, 16, K, 3], sigma [4, 16, K, 1], pi [4, 16, K] (the forward's tuple);
               SemGCN: pose [4, 16, 3]
    w/<name>   every entry of the model's state_dict under its own name (BatchNorm's
               num_batches_tracked included, int64)
    config     JSON: repository, commit, class, constructor arguments
"""

from __future__ import annotations

import argparse
import copy
import functools
import importlib
import json
import subprocess
import sys
import types
from pathlib import Path

import numpy as np

SEED_INPUT = 7
BATCH = 4

# name: (repository, class, constructor arguments besides adj and nodes_group, non-local)
VARIANTS = {
    "graphmdn_pose_hid16_l1_k3": (
        "graphmdn",
        "SemGCN_MDN_Graph",
        {"hid_dim": 16, "num_gaussians": 3, "num_layers": 1, "p_dropout": 0.1,
         "pose_level_pi": True, "uniform_sigma": True},
        True,
    ),
    "graphmdn_node_hid32_l2_k2": (
        "graphmdn",
        "SemGCN_MDN_Graph",
        {"hid_dim": 32, "num_gaussians": 2, "num_layers": 2, "p_dropout": 0.1},
        True,
    ),
    "semgcn_hid16_l2": ("semgcn", "SemGCN", {"hid_dim": 16, "num_layers": 2}, False),
    "semgcn_nonlocal_hid32_l1": ("semgcn", "SemGCN", {"hid_dim": 32, "num_layers": 1}, True),
}  # fmt: skip


def _import_repository(path: Path, family: str):
    """The repository's model module and its (adjacency, joint groups) of the 16-joint skeleton."""
    for name in [n for n in sys.modules if n.split(".")[0] in ("models", "common")]:
        del sys.modules[name]
    sys.path.insert(0, str(path))
    try:
        graph_utils = importlib.import_module("common.graph_utils")
        h36m = importlib.import_module("common.h36m_dataset")
        if family == "graphmdn":
            module = importlib.import_module("models.sem_gcn_mdn")
        else:
            module = _python3_sem_gcn(path / "models" / "sem_gcn.py")
    finally:
        sys.path.remove(str(path))
    # As Human36mDataset(remove_static_joints=True) does, without reading a data file.
    skeleton = copy.deepcopy(h36m.h36m_skeleton)
    skeleton.remove_joints([i for i, x in enumerate(h36m.H36M_NAMES) if x in ("", "Neck/Nose")])
    skeleton._parents[10] = 8
    skeleton._parents[13] = 8
    skeleton._joints_group = h36m.h36m_skeleton_joints_group
    return module, graph_utils.adj_mx_from_skeleton(skeleton), skeleton.joints_group()


def _python3_sem_gcn(path: Path):
    source = path.read_text()
    source = source.replace(
        "self.nonlocal = GraphNonLocal(hid_dim, sub_sample=group_size)",
        "setattr(self, 'nonlocal', GraphNonLocal(hid_dim, sub_sample=group_size))",
    ).replace("self.nonlocal(", "getattr(self, 'nonlocal')(")
    module = types.ModuleType("models.sem_gcn")
    module.reduce = functools.reduce
    sys.modules["models.sem_gcn"] = module
    exec(compile(source, str(path), "exec"), module.__dict__)
    return module


def _randomise(model, seed: int):
    """Seeded values in every floating-point parameter and buffer, on the scale of a trained model:
    weights ~ N(0, 1/fan_in), edge logits ~ N(0, 1), BatchNorm scales near 1, variances positive."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if not tensor.is_floating_point():
                continue
            noise = torch.randn(tensor.shape, generator=generator)
            if (
                name.endswith("gconv.W")
                or name.endswith(".W")
                and tensor.dim() == 3
                and tensor.shape[0] == 2
            ):
                values = noise / tensor.shape[1] ** 0.5  # SemGraphConv [2, in, out]
            elif tensor.dim() >= 2 and not name.endswith(".e"):
                values = noise / tensor[0].numel() ** 0.5  # 1x1 convolutions [out, in, 1(, 1)]
            elif name.endswith("running_var"):
                values = noise.abs() * 0.5 + 0.5
            elif name.endswith("bn.weight") or name.endswith("W.1.weight"):
                values = 1 + 0.2 * noise
            elif name.endswith(".e"):
                values = noise
            else:
                values = 0.1 * noise  # biases, BatchNorm shifts and running means
            tensor.copy_(values)


def make_fixture(name: str, repositories: dict, out: Path) -> Path:
    import torch

    family, class_name, arguments, non_local = VARIANTS[name]
    module, adj, groups = _import_repository(repositories[family], family)
    torch.manual_seed(0)
    model = getattr(module, class_name)(
        adj, nodes_group=copy.deepcopy(groups) if non_local else None, **arguments
    )
    _randomise(model, seed=sum(map(ord, name)))
    model.eval()
    inputs = np.random.default_rng(SEED_INPUT).uniform(-1, 1, (BATCH, 16, 2)).astype(np.float32)
    with torch.no_grad():
        result = model(torch.from_numpy(inputs))
    if family == "graphmdn":
        outputs = dict(zip(("mu", "sigma", "pi"), (t.numpy() for t in result)))
    else:
        outputs = {"pose": result.numpy()}
    repository = repositories[family]
    commit = subprocess.run(
        ["git", "-C", str(repository), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    config = {
        "repository": {"graphmdn": "vectra-ai-research/GraphMDN", "semgcn": "garyzhao/SemGCN"}[
            family
        ],
        "commit": commit or None,
        "class": class_name,
        "arguments": arguments,
        "non_local": non_local,
        "torch": torch.__version__,
    }
    weights = {f"w/{k}": v.numpy() for k, v in model.state_dict().items()}
    path = out / f"{name}.npz"
    np.savez_compressed(path, input=inputs, config=json.dumps(config), **outputs, **weights)
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--semgcn-repo", type=Path, required=True, help="a checkout of SemGCN")
    parser.add_argument("--graphmdn-repo", type=Path, required=True, help="a checkout of GraphMDN")
    parser.add_argument("--out", type=Path, default=Path("tests/fixtures/convert"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    repositories = {"semgcn": args.semgcn_repo.resolve(), "graphmdn": args.graphmdn_repo.resolve()}
    for name in VARIANTS:
        path = make_fixture(name, repositories, args.out)
        print(f"{path}: {path.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
