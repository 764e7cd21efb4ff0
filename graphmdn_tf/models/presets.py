"""The paper's model and training presets, as plain data (GraphMDN Sections 4.4, 5.1, 5.2).

`MODEL_PRESETS[name]` holds constructor arguments of `GraphMDN` / `SemGCN` (SemGCN ignores the mixture
fields); `TRAINING_PRESETS[name]` the schedule the paper trained that preset with.
`PRETRAINED_PRESETS[name]` names a trained model shipped in the package (graphmdn_tf/pretrained/), which
`GraphMDN.from_preset(name)` returns with its weights and `graphmdn-tf lift` uses when no model is named.
"""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

#: The models a config names: GraphMDN and the SemGCN baseline (`models.build.MODEL_CLASSES`).
MODELS = ("graphmdn", "semgcn")

MODEL_PRESETS = MappingProxyType(
    {
        # 4 residual blocks x 128, 5 kernels (Table 1 "Ours").
        "standard": MappingProxyType(
            {"hidden_dim": 128, "num_blocks": 4, "num_kernels": 5, "dropout": 0.1}
        ),
        # 3 residual blocks x 512, 5 kernels (Tables 1-3 "Wide").
        "wide": MappingProxyType(
            {"hidden_dim": 512, "num_blocks": 3, "num_kernels": 5, "dropout": 0.1}
        ),
        # Standard backbone, 8 kernels (Table 3 "Ours (8)").
        "k8": MappingProxyType(
            {"hidden_dim": 128, "num_blocks": 4, "num_kernels": 8, "dropout": 0.1}
        ),
        # Wide backbone, 200 kernels, dropout 0.5 (Table 3 "Ours (Wide, 200)", Section 5.2).
        "k200": MappingProxyType(
            {"hidden_dim": 512, "num_blocks": 3, "num_kernels": 200, "dropout": 0.5}
        ),
    }
)

_SUPER_CONVERGENCE = MappingProxyType(
    {"epochs": 2, "batch_size": 256, "schedule": "one_cycle", "peak_learning_rate": 6e-3}
)
TRAINING_PRESETS = MappingProxyType(
    {
        "standard": _SUPER_CONVERGENCE,
        "wide": _SUPER_CONVERGENCE,
        "k8": _SUPER_CONVERGENCE,
        # Super-convergence reduced kernel diversity at 200 kernels: 30 epochs of exponential decay
        # from 1e-3 instead (SemGCN's decay: x0.96 every 100k steps).
        "k200": MappingProxyType(
            {
                "epochs": 30,
                "batch_size": 256,
                "schedule": "exponential",
                "initial_learning_rate": 1e-3,
                "decay_rate": 0.96,
                "decay_steps": 100_000,
            }
        ),
    }
)


PRETRAINED_DIR = Path(__file__).resolve().parents[1] / "pretrained"
PRETRAINED_PRESETS = MappingProxyType(
    {
        # Made by `python tools/make_pretrained.py --data-dir data/cmu ...` (docs/pretrained.md).
        "cmu_standard": MappingProxyType(
            {
                "file": "cmu_standard.keras",
                "description": "a demonstration GraphMDN (standard preset, pose level) trained for 4 "
                "epochs on CMU motion capture (subjects S1, S5, S6: about 9,900 frames x 4 cameras), "
                "not a Human3.6M model; see docs/pretrained.md",
            }
        ),
    }
)
#: The trained preset `graphmdn-tf lift` uses when no model is named.
DEFAULT_PRETRAINED = "cmu_standard"


def pretrained_path(name: str = DEFAULT_PRETRAINED) -> Path:
    """The `.keras` file of the trained preset `name` inside the installed package.

    Raises:
        ValueError: `name` is no trained preset. FileNotFoundError: the file is missing from the package.
    """
    if name not in PRETRAINED_PRESETS:
        raise ValueError(
            f"Unknown trained preset {name!r}. Expected one of {sorted(PRETRAINED_PRESETS)}"
        )
    path = PRETRAINED_DIR / PRETRAINED_PRESETS[name]["file"]
    if not path.is_file():
        raise FileNotFoundError(
            f"The trained preset {name!r} is missing from the package (expected {path}); "
            "reinstall graphmdn-tf or remake it with tools/make_pretrained.py"
        )
    return path


def model_preset(name: str) -> dict:
    """A copy of the model arguments of preset `name`."""
    if name not in MODEL_PRESETS:
        raise ValueError(f"Unknown preset {name!r}. Expected one of {sorted(MODEL_PRESETS)}")
    return dict(MODEL_PRESETS[name])
