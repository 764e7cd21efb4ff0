"""`graphmdn-tf bench accuracy`: how accurate the default training is, over several seeds.

Trains GraphMDN and the SemGCN baseline with the default `graphmdn-tf train` settings of a preset on a
real data set (by default the shared CMU development split: train S1, S5, S6, test S7) for a fixed
number of epochs, once per seed, scores every run with `evaluate_run` (the 'paper' convention unless
told otherwise), and reports each method's Protocol #1 and #2 average with its spread over the seeds:
GraphMDN Mean, Highest and Oracle, SemGCN, and the training set's mean pose (the floor any trained
model must beat). Super-convergence on a few hundred steps is seed-sensitive, so one seed says little.

Results go to `accuracy.json`, `accuracy.md` and `accuracy.png` in the output directory, the runs to
`OUT/runs/<model>-seed<seed>/` (complete run directories; a finished run with the same settings is
reused, so an interrupted benchmark resumes where it stopped).

Example:
    graphmdn-tf bench accuracy --data-dir data/cmu --epochs 4 --seeds 0 1 2 --output-dir bench-accuracy
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from graphmdn_tf.config import TrainingConfig
from graphmdn_tf.data.pipeline import config_samples
from graphmdn_tf.evaluation import evaluate_run
from graphmdn_tf.metrics import per_action_errors
from graphmdn_tf.runs import RunDirectory
from graphmdn_tf.scoring import CONVENTIONS, check_convention, score_outputs
from graphmdn_tf.training.fit import train
from graphmdn_tf.viz import plt

MEAN_POSE = "Mean pose (training set)"
REPORTED = ("GraphMDN (Mean)", "GraphMDN (Highest)", "GraphMDN (Oracle)", "SemGCN")


@dataclass(frozen=True)
class AccuracySettings:
    """What `run_accuracy_benchmark` trains: the data, the preset, the budget and the seeds.

    `overrides` are further `TrainingConfig` fields applied to every run (e.g. {"dropout": 0.0}).
    """

    dataset: str = "cmu"
    data_dir: str | None = None
    preset: str = "standard"
    models: tuple = ("graphmdn", "semgcn")
    epochs: int = 4
    seeds: tuple = (0, 1, 2)
    stride: int = 1
    train_subjects: tuple = ()
    test_subjects: tuple = ()
    convention: str = "paper"
    overrides: dict = field(default_factory=dict)

    def config(self, model: str, seed: int) -> TrainingConfig:
        return TrainingConfig.from_preset(
            self.preset,
            model=model,
            dataset=self.dataset,
            data_dir=self.data_dir,
            epochs=self.epochs,
            seed=seed,
            stride=self.stride,
            train_subjects=self.train_subjects,
            test_subjects=self.test_subjects,
            **self.overrides,
        )


def mean_pose_errors(config: TrainingConfig, convention: str) -> dict:
    """{1: P1, 2: P2} (mm, the paper's per-action average) of predicting the training set's mean pose."""
    train_samples = config_samples(config, config.train_subjects, progress=False)
    test = config_samples(config, config.test_subjects, progress=False)
    prediction = np.broadcast_to(train_samples.targets_3d.mean(axis=0), test.targets_3d.shape)
    errors = score_outputs(prediction, test.targets_3d, convention=convention)["prediction"]
    return {
        protocol: per_action_errors(errors[protocol], test.action_classes)[1] for protocol in (1, 2)
    }


def _finished_run(config: TrainingConfig, run_dir: Path) -> bool:
    run = RunDirectory(run_dir)
    if not run.is_finished():
        return False
    existing = run.load_config()
    if existing != config:
        changed = ", ".join(sorted(existing.differences(config)))
        raise ValueError(
            f"{run_dir} holds a finished run with other settings ({changed}). Use another --output-dir for a "
            "benchmark with different settings."
        )
    return True


def benchmark_run(
    settings: AccuracySettings, model: str, seed: int, run_dir: Path, verbose: int = 0
) -> dict:
    """Train (or reuse) one run and score it: {"model", "seed", "seconds", "averages": {method: {1, 2}}, ...}."""
    config = settings.config(model, seed)
    started = time.time()
    reused = _finished_run(config, run_dir)
    if not reused:
        train(config, run_dir, verbose=verbose)
    seconds = time.time() - started
    result = evaluate_run(run_dir, num_samples=0, convention=settings.convention, progress=False)
    averages = {row.method: {} for row in result.rows}
    for row in result.rows:
        averages[row.method][row.protocol] = row.average
    return {
        "model": model,
        "seed": seed,
        "run_dir": str(run_dir),
        "seconds": round(seconds, 1),
        "reused": reused,
        "averages": averages,
        "test_nll": next(iter(result.test_nll.values()), None),
    }


def summarize(runs: list[dict], mean_pose: dict) -> dict:
    """{method: {"p1": {mean, std, values}, "p2": {...}}} over the seeds, plus the mean-pose floor."""
    summary = {}
    methods = [method for method in REPORTED if any(method in run["averages"] for run in runs)]
    for method in methods:
        summary[method] = {}
        for protocol in (1, 2):
            values = [
                run["averages"][method][protocol] for run in runs if method in run["averages"]
            ]
            summary[method][f"p{protocol}"] = {
                "mean": statistics.fmean(values),
                "std": statistics.stdev(values) if len(values) > 1 else 0.0,
                "values": values,
            }
    summary[MEAN_POSE] = {
        f"p{protocol}": {"mean": mean_pose[protocol], "std": 0.0, "values": [mean_pose[protocol]]}
        for protocol in (1, 2)
    }
    return summary


def run_accuracy_benchmark(out_dir, settings: AccuracySettings, verbose: int = 0) -> dict:
    """Train every (model, seed), score them, write accuracy.{json,md,png}; returns the report."""
    check_convention(settings.convention)
    if not settings.seeds:
        raise ValueError("Expected at least one seed. Received: seeds=()")
    out_dir = Path(out_dir)
    started = time.time()
    runs = []
    for model in settings.models:
        for seed in settings.seeds:
            print(
                f"[bench accuracy] {model}, seed {seed}: training {settings.epochs} epoch(s)",
                flush=True,
            )
            record = benchmark_run(
                settings, model, seed, out_dir / "runs" / f"{model}-seed{seed}", verbose
            )
            print(
                f"[bench accuracy] {model}, seed {seed}: "
                + ", ".join(
                    f"{method} P1 {values[1]:.1f}" for method, values in record["averages"].items()
                )
                + f" ({record['seconds']:.0f} s)",
                flush=True,
            )
            runs.append(record)
    config = settings.config(settings.models[0], settings.seeds[0])
    report = {
        "settings": asdict(settings),
        "train_subjects": list(config.train_subjects),
        "test_subjects": list(config.test_subjects),
        "convention": settings.convention,
        "runs": runs,
        "summary": summarize(runs, mean_pose_errors(config, settings.convention)),
        "seconds": round(time.time() - started, 1),
        "date": time.strftime("%Y-%m-%d"),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "accuracy.json").write_text(json.dumps(report, indent=2) + "\n")
    (out_dir / "accuracy.md").write_text(format_markdown(report))
    plot_accuracy(report, out_dir / "accuracy.png")
    return report


def format_markdown(report: dict) -> str:
    settings = report["settings"]
    lines = [
        f"## Accuracy: {settings['preset']} preset, {settings['epochs']} epoch(s), seeds "
        f"{', '.join(map(str, settings['seeds']))}",
        "",
        f"{settings['dataset']}: train {','.join(report['train_subjects'])}, test {','.join(report['test_subjects'])}"
        f" (stride {settings['stride']}); scoring convention '{report['convention']}': "
        f"{CONVENTIONS[report['convention']]}. Mean ± standard deviation over the seeds of the paper's "
        "average (unweighted mean over actions), in mm.",
        "",
        "| Method | Protocol #1 | Protocol #2 | per seed (P1) |",
        "|---|---:|---:|---|",
    ]
    for method, values in report["summary"].items():
        p1, p2 = values["p1"], values["p2"]
        seeds = ", ".join(f"{value:.1f}" for value in p1["values"])
        lines.append(
            f"| {method} | {p1['mean']:.1f} ± {p1['std']:.1f} | {p2['mean']:.1f} ± {p2['std']:.1f} | {seeds} |"
        )
    nll = [run["test_nll"] for run in report["runs"] if run["test_nll"] is not None]
    if nll:
        lines += [
            "",
            f"GraphMDN test NLL: {statistics.fmean(nll):.2f} nats per pose (mean over seeds).",
        ]
    lines += ["", f"{len(report['runs'])} runs, {report['seconds']:.0f} s ({report['date']}).", ""]
    return "\n".join(lines)


def plot_accuracy(report: dict, path) -> Path:
    """Bars of each method's mean error with the seeds' spread and every seed as a dot, per protocol."""
    methods = list(report["summary"])
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    positions = np.arange(len(methods))
    for axis, protocol in zip(axes, ("p1", "p2")):
        means = [report["summary"][method][protocol]["mean"] for method in methods]
        spreads = [report["summary"][method][protocol]["std"] for method in methods]
        axis.bar(positions, means, yerr=spreads, capsize=4, color="tab:blue", alpha=0.6)
        for index, method in enumerate(methods):
            values = report["summary"][method][protocol]["values"]
            axis.scatter(np.full(len(values), index), values, color="black", s=12, zorder=3)
        axis.set_xticks(positions, [method.replace(" (", "\n(") for method in methods], fontsize=8)
        axis.set_ylabel("error (mm)")
        axis.set_title(f"Protocol #{protocol[1]} ({'MPJPE' if protocol == 'p1' else 'P-MPJPE'})")
        axis.grid(axis="y", alpha=0.3)
    settings = report["settings"]
    figure.suptitle(
        f"{settings['dataset']}, {settings['preset']}, {settings['epochs']} epoch(s), "
        f"{len(settings['seeds'])} seed(s)"
    )
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
