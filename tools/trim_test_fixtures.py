"""Write the test suite's copies of the shared material (tests/fixtures/), trimmed to what the tests read.

The project's shared folder (reference facts, parity fixtures of the authors' code, the CMU motion
capture set) is not beside every clone; the tests read these copies instead, laid out as the shared
folder is, so that `shared_dir / "reference" / ...` names the same file in both:

    reference/h36m_facts.txt            copied whole
    reference/parity/<forward>.npz      the two forward-pass fixtures, copied whole
    reference/parity/training_*.npz     the two training trajectories without the keys no test reads
                                        (final weights, gradient norms, the unread evaluation outputs),
                                        compressed
    data/cmu/data_3d_cmu.npz            every subject and action, the first FRAMES frames of each, in
    data/cmu/data_2d_cmu_gt.npz         the original layout (pickled dicts inside an uncompressed npz)

Usage:
    python tools/trim_test_fixtures.py --shared PATH/TO/shared [--frames 300]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
FORWARD_FIXTURES = ("node_level_hid64_l2_k3.npz", "pose_level_hid128_l4_k5.npz")
REPLAYED = ("config", "inputs", "targets", "batch_index", "lr", "loss")  # and init/*
TRAJECTORIES = {
    # file: the keys the replay test reads besides the initial weights (init/*)
    "training_peak2e-4_hid128_l4_k5.npz": (*REPLAYED, "eval_input", "eval_mu"),
    "training_peak6e-3_hid128_l4_k5.npz": REPLAYED,
}


def _trim_trajectory(source: Path, target: Path, keys) -> None:
    data = np.load(source)
    kept = {key: data[key] for key in data.files if key in keys or key.startswith("init/")}
    np.savez_compressed(target, **kept)


def _trim_cmu(source: Path, target: Path, frames: int) -> None:
    """The CMU files with every sequence cut to its first `frames` frames (all four cameras)."""
    data_3d = np.load(source / "data_3d_cmu.npz", allow_pickle=True)  # the trusted shared files
    positions_3d = {
        subject: {action: world[:frames] for action, world in actions.items()}
        for subject, actions in data_3d["positions_3d"].item().items()
    }
    np.savez(target / "data_3d_cmu.npz", positions_3d=positions_3d)
    data_2d = np.load(source / "data_2d_cmu_gt.npz", allow_pickle=True)
    positions_2d = {
        subject: {action: [view[:frames] for view in views] for action, views in actions.items()}
        for subject, actions in data_2d["positions_2d"].item().items()
    }
    np.savez(
        target / "data_2d_cmu_gt.npz",
        positions_2d=positions_2d,
        metadata=data_2d["metadata"].item(),
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--shared", type=Path, required=True, help="the shared folder (reference/, data/cmu/)"
    )
    parser.add_argument("--frames", type=int, default=300, help="frames kept per CMU sequence")
    args = parser.parse_args(argv)
    reference, parity = FIXTURES / "reference", FIXTURES / "reference" / "parity"
    cmu = FIXTURES / "data" / "cmu"
    for folder in (parity, cmu):
        folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(args.shared / "reference" / "h36m_facts.txt", reference / "h36m_facts.txt")
    for name in FORWARD_FIXTURES:
        shutil.copyfile(args.shared / "reference" / "parity" / name, parity / name)
    for name, keys in TRAJECTORIES.items():
        _trim_trajectory(args.shared / "reference" / "parity" / name, parity / name, keys)
    _trim_cmu(args.shared / "data" / "cmu", cmu, args.frames)
    for path in sorted(FIXTURES.rglob("*.*")):
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
