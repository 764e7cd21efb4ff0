"""The paper's model and training presets, as plain data (GraphMDN Sections 4.4, 5.1, 5.2).

`MODEL_PRESETS[name]` holds constructor arguments of `GraphMDN` / `SemGCN` (SemGCN ignores the mixture
fields); `TRAINING_PRESETS[name]` the schedule the paper trained that preset with.
"""

from __future__ import annotations

from types import MappingProxyType

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


def model_preset(name: str) -> dict:
    """A copy of the model arguments of preset `name`."""
    if name not in MODEL_PRESETS:
        raise ValueError(f"Unknown preset {name!r}. Expected one of {sorted(MODEL_PRESETS)}")
    return dict(MODEL_PRESETS[name])
