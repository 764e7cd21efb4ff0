"""How much lifting a detector's COCO joints costs against lifting exact Human3.6M 16-joint inputs.

The shared CMU test poses (S7) are projected with S7's Human3.6M cameras; the joints COCO also has
(shoulders, elbows, wrists, hips, knees, ankles, and the nose from Human3.6M's Neck/Nose; eyes and ears
are absent, score 0) are written as a COCO keypoint results JSON per camera and lifted by
`graphmdn-tf lift`'s library through the COCO mapping (`graphmdn_tf.data.joint_mapping.to_h36m16`), beside
the exact 16-joint projections. Both are scored with Protocol #1 (MPJPE, mm, Hip-relative, camera frame)
against the 3D poses. The model is trained on the development split (S1, S5, S6), or read from --run-dir
if it holds a finished run.

Usage:
    python tools/lift_benchmark.py --data-dir ../shared/data/cmu --run-dir runs/lift-bench-cmu [--epochs 10]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from graphmdn_tf.config import TrainingConfig
from graphmdn_tf.data.cameras import h36m_cameras, project_to_pixels, world_to_camera
from graphmdn_tf.data.keypoint_formats import COCO_17, COCO_FOR_H36M16
from graphmdn_tf.data.safe_npz import load_npz_safely
from graphmdn_tf.lifting import lift
from graphmdn_tf.metrics import mpjpe
from graphmdn_tf.runs import RunDirectory
from graphmdn_tf.skeletons import H36M_16_FROM_17, H36M_17
from graphmdn_tf.training import train

_H17 = {name: index for index, name in enumerate(H36M_17.joint_names)}
# COCO-17 joint -> the Human3.6M-17 joint at the same place: the package's limbs, and the nose at
# Neck/Nose; COCO's eyes and ears have none.
COCO_FROM_H36M17 = {COCO_17[coco]: name for name, coco in COCO_FOR_H36M16.items()}
COCO_FROM_H36M17["nose"] = "Neck/Nose"


def coco_results(pixels_17: np.ndarray) -> list:
    """COCO keypoint results (one per frame) holding the joints COCO shares with Human3.6M-17."""
    triples = np.zeros((len(pixels_17), 17, 3))
    for index, name in enumerate(COCO_17):
        if name in COCO_FROM_H36M17:
            triples[:, index, :2], triples[:, index, 2] = (
                pixels_17[:, _H17[COCO_FROM_H36M17[name]]],
                1.0,
            )
    return [
        {
            "image_id": frame,
            "category_id": 1,
            "score": 1.0,
            "keypoints": values.reshape(-1).tolist(),
        }
        for frame, values in enumerate(triples)
    ]


def ensure_run(data_dir: Path, run_dir: Path, epochs: int) -> Path:
    if not RunDirectory(run_dir).is_finished():
        config = TrainingConfig.from_preset(
            "standard",
            dataset="cmu",
            data_dir=str(data_dir),
            epochs=epochs,
            image_frames=0,
            validation_frames=2000,
        )
        train(config, run_dir, verbose=2)
    return run_dir


def benchmark(data_dir: Path, run_dir: Path, subject: str = "S7") -> dict:
    poses_world = load_npz_safely(data_dir / "data_3d_cmu.npz")["positions_3d"][subject]
    errors = {"exact": {}, "coco": {}}
    weights = []
    with tempfile.TemporaryDirectory() as scratch:
        for camera_index, camera in enumerate(h36m_cameras(subject)):
            world = np.concatenate(
                [np.asarray(poses_world[action], np.float64) for action in sorted(poses_world)]
            )
            target = world_to_camera(world, camera["orientation"], camera["translation"])[
                :, list(H36M_16_FROM_17)
            ]
            target = target - target[:, :1]
            pixels = project_to_pixels(world, camera)  # [frames, 17, 2]
            size = (camera["res_w"], camera["res_h"])
            path = Path(scratch) / f"camera{camera_index}.json"
            path.write_text(json.dumps(coco_results(pixels)))
            for kind, keypoints in (("exact", pixels[:, list(H36M_16_FROM_17)]), ("coco", path)):
                result = lift(run_dir, keypoints, image_size=size, progress=False)
                if result.refused:
                    raise RuntimeError(
                        f"{kind} inputs of camera {camera_index}: records refused: {result.refused[:3]}"
                    )
                for name, pose in result.poses.items():
                    errors[kind].setdefault(name, []).append(mpjpe(pose, target) * 1000.0)
            weights.append(len(world))
    return {
        kind: {name: float(np.average(values, weights=weights)) for name, values in by_name.items()}
        for kind, by_name in errors.items()
    } | {"frames": weights[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data/cmu"))
    parser.add_argument("--run-dir", type=Path, default=Path("runs/lift-bench-cmu"))
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    scores = benchmark(args.data_dir, ensure_run(args.data_dir, args.run_dir, args.epochs))
    print(f"CMU S7, {scores['frames']} frames x 4 cameras, Protocol #1 (MPJPE, mm):")
    print("| input | " + " | ".join(scores["exact"]) + " |")
    print("|---|" + "---|" * len(scores["exact"]))
    for kind, label in (
        ("exact", "exact Human3.6M-16 projections"),
        ("coco", "COCO results JSON (13 joints)"),
    ):
        print(
            f"| {label} | " + " | ".join(f"{value:.1f}" for value in scores[kind].values()) + " |"
        )


if __name__ == "__main__":
    main()
