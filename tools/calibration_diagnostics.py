"""How far per-joint scale factors of sigma can go on a calibrated run: a diagnostic, never a fit to use.

    python tools/calibration_diagnostics.py RUN_DIR [--scales 80]

Prints, for a run that `graphmdn-tf calibrate` has calibrated:
- per joint, the stored scale (fitted on the run's validation split), the scale the same
  maximum-likelihood fit gives on the run's TEST subjects, and their ratio: how much wider the errors
  on the test subjects are than on the validation split (the test fit is printed, never stored);
- the ECE and the coverage at the 90% level on the test subjects with those test-fitted scales;
- on the validation split, the lowest ECE any per-joint scale reaches (each joint's ECE depends on its
  own scale only, so a scan of `--scales` values from 0.05 to 5 per joint finds it), against the
  maximum-likelihood fit's.
"""

from __future__ import annotations

import argparse

import keras
import numpy as np

from graphmdn_tf import uncertainty
from graphmdn_tf.calibration import calibration_error, fit_sigma_scales, scaled_params
from graphmdn_tf.data.pipeline import config_samples
from graphmdn_tf.evaluation.calibrate import calibration_samples
from graphmdn_tf.runs import RunDirectory


def _params(model, inputs):
    return keras.tree.map_structure(np.asarray, model.predict(inputs, batch_size=4096, verbose=0))


def _best_ece(params, targets, count: int) -> tuple[np.ndarray, np.ndarray]:
    """(the lowest ECE per joint over `count` uniform scales, the scale reaching it), both [N]."""
    levels = uncertainty.CALIBRATION_LEVELS
    grid = np.exp(np.linspace(np.log(0.05), np.log(5.0), count))
    nodes = targets.shape[1]
    errors = []
    for scale in grid:
        u = uncertainty.probability_integral_transform(
            scaled_params(params, np.full(nodes, scale)), targets
        )
        observed = np.mean(u[..., None] <= levels, axis=0)  # [N, L]
        errors.append(np.mean(np.abs(observed - levels), axis=1))
    errors = np.asarray(errors)
    return errors.min(axis=0), grid[errors.argmin(axis=0)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--scales", type=int, default=80, help="scales scanned per joint")
    args = parser.parse_args()
    run = RunDirectory(args.run_dir)
    record = run.load_calibration()
    if record is None:
        raise SystemExit(f"{run.calibration_path} not found: run graphmdn-tf calibrate first")
    config = run.load_config()
    model = run.load_model(calibrated=False)
    stored = record.scale_array()

    test = config_samples(config, config.test_subjects, progress=False)
    test_params = _params(model, test.inputs_2d)
    test_fit = fit_sigma_scales(test_params, test.targets_3d)
    print("joint        stored  test-fitted  ratio")
    for name, mine, theirs in zip(record.joint_names, np.atleast_2d(stored)[0], test_fit.scales):
        print(f"{name:10s} {mine:8.3f} {theirs:12.3f} {theirs / mine:6.2f}")
    fitted = calibration_error(test_params, test.targets_3d, test_fit.scales)
    print(f"test subjects, test-fitted scales: ECE {fitted['ece']:.3f}, coverage 90% "
          f"{fitted['coverage_90']:.3f}")  # fmt: skip

    validation, _ = calibration_samples(config, progress=False)
    params = _params(model, validation.inputs_2d)
    best, scales = _best_ece(params, validation.targets_3d, args.scales)
    reached = calibration_error(params, validation.targets_3d, scales)
    print(f"validation, maximum likelihood: ECE {record.after['ece']:.3f}")
    print(f"validation, lowest per-joint ECE: overall {reached['ece']:.3f}, per joint "
          f"{best.min():.3f}-{best.max():.3f}, coverage 90% {reached['coverage_90']:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
