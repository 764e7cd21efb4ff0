"""The quickstart pipeline: synthetic data -> train GraphMDN and SemGCN -> evaluate -> compare -> export.

The whole package in a few minutes on a CPU, on the built-in synthetic data set; `graphmdn-tf quickstart`
runs it from the command line.

Example:
    >>> from graphmdn_tf.quickstart import quickstart
    >>> combined = quickstart("runs", epochs=1, export=False)   # an `EvaluationResult` of both models
    >>> print(combined.to_markdown())
"""

from __future__ import annotations

from pathlib import Path

from graphmdn_tf.config import TrainingConfig
from graphmdn_tf.data.pipeline import load_samples
from graphmdn_tf.evaluation import combine_results, evaluate_run
from graphmdn_tf.export import export_run
from graphmdn_tf.runs import RunDirectory
from graphmdn_tf.training.fit import train

# The quickstart's recipe: the paper's standard architecture, batch and one-cycle peak, on the built-in
# synthetic set, with more epochs than the paper's two because the set is small.
QUICKSTART_OVERRIDES = {"dataset": "synthetic", "epochs": 8, "stride": 1, "validation_frames": 2048}
QUICKSTART_EXPORT_NAME = "graphmdn"


def quickstart_config(
    model: str, epochs: int | None = None, stride: int | None = None
) -> TrainingConfig:
    """The quickstart's `TrainingConfig` for 'graphmdn' or 'semgcn'."""
    overrides = dict(QUICKSTART_OVERRIDES, model=model)
    overrides.update({k: v for k, v in (("epochs", epochs), ("stride", stride)) if v is not None})
    return TrainingConfig.from_preset("standard", **overrides)


def quickstart(
    output: str | Path = "runs",
    *,
    epochs: int | None = None,
    stride: int | None = None,
    export: bool = True,
    overwrite: bool = False,
    verbose: int = 1,
    export_dir: str | Path = "saved_models",
):
    """Synthetic data -> train a pose-level GraphMDN and SemGCN the same way -> evaluate both -> print the
    comparison -> export the GraphMDN as a SavedModel. Finished quickstart runs with the same settings
    are reused unless `overwrite`. Returns the combined `EvaluationResult`."""
    output = Path(output)
    print("[1/5] Synthetic data set (generated on first use, then cached)", flush=True)
    first = quickstart_config("graphmdn", epochs, stride)
    load_samples("synthetic", subjects=first.train_subjects, stride=first.stride)
    run_dirs, trained = {}, False
    for step, model in ((2, "graphmdn"), (3, "semgcn")):
        config = quickstart_config(model, epochs, stride)
        run_dir = run_dirs[model] = output / f"quickstart-{model}"
        if not overwrite and RunDirectory(run_dir).finished_with(config):
            print(
                f"[{step}/5] {model}: reusing the finished run {run_dir} (--overwrite retrains)",
                flush=True,
            )
            continue
        print(f"[{step}/5] Training {model} ({config.epochs} epochs)", flush=True)
        train(config, run_dir, overwrite=overwrite, verbose=verbose)
        trained = True
    print("[4/5] Evaluating both on the test subjects", flush=True)
    results = [
        evaluate_run(run_dirs[model], progress=verbose > 0) for model in ("graphmdn", "semgcn")
    ]
    combined = combine_results(results)
    comparison_dir = output / "quickstart-comparison"
    paths = combined.write(comparison_dir, "comparison", ours=True)  # the quickstart's own folder
    print(
        f"\n{combined.to_markdown()}\nWritten in {comparison_dir}: "
        + ", ".join(path.name for path in paths.values())
    )
    if export:
        _export(run_dirs["graphmdn"], export_dir, retrained=trained)
    else:
        print("[5/5] Export skipped")
    print(f"TensorBoard: tensorboard --logdir {output}")
    return combined


def _export(run_dir: Path, export_dir: str | Path, *, retrained: bool) -> None:
    """Export the quickstart's GraphMDN, unless `export_dir` already holds a version and nothing was retrained."""
    export_root = Path(export_dir) / QUICKSTART_EXPORT_NAME
    if retrained or not any(export_root.glob("[0-9]*")):
        path = export_run(run_dir, QUICKSTART_EXPORT_NAME, base_dir=export_dir)
        print(f"[5/5] Exported the GraphMDN SavedModel: {path}")
    else:
        print(
            f"[5/5] Export: {export_root} already holds this model (new versions come with retraining)"
        )
