"""The hypotheses' goal table: train variants of GraphMDN over seeds, score validation and test, one row each.

Every variant is `graphmdn-tf train` with the shared settings (CMU split: train S1, S5, S6 with their last
10% of every sequence held out as the validation split, test S7; standard preset; 4 epochs) plus the
variant's own flags, once per seed. Each run is scored by `evaluate_run` on the test subjects (what
`graphmdn-tf evaluate RUN` writes: RUN/results.json, 200 samples for the best-of row) and on its own
validation split (RUN/evaluations/validation/results.json). A finished run or evaluation is reused, so an
interrupted table resumes where it stopped, and runs trained elsewhere by the same command join in.

For each variant and split the row holds, as mean ± standard deviation over the seeds: GraphMDN Mean P1;
Oracle P1 and its gap to Mean in %; the best of 200 samples; the best ground-truth-free selector (the one
with the lowest P1 averaged over the seeds); ECE overall and its worst joint; the observed coverage at
the 90% level; the effective kernels; and which of the goal's lines it meets (`GOAL`).

Usage:
    python tools/hypothesis_table.py --data-dir ../shared/data/cmu --output-dir runs/hypotheses \\
        --variant baseline= --variant per-joint=--sigma-per-joint --variant "k50=--num-kernels 50"

Writes OUTPUT_DIR/hypotheses.json and hypotheses.md and prints the table.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from graphmdn_tf.evaluation import evaluate_run
from graphmdn_tf.evaluation.run import VALIDATION_TAG
from graphmdn_tf.hypotheses import SELECTIONS
from graphmdn_tf.runs import RESULTS_STEM, RunDirectory

SHARED_FLAGS = ("--dataset", "cmu", "--epochs", "4", "--validation-holdout", "0.1")
NUM_SAMPLES = 200
COVERAGE_LEVEL = 0.9
# The selections that choose without the ground truth, Mean aside (the row it is compared with).
SELECTORS = tuple(
    selection.label(0)
    for name, selection in SELECTIONS.items()
    if "target" not in selection.requires and not selection.sampled and name != "mean"
)
# The goal: ECE and its worst joint, coverage at 90%, Oracle gap, and the seed spread of Mean.
GOAL = {
    "ece": 0.03,
    "ece_worst_joint": 0.05,
    "coverage_90": (0.85, 0.95),
    "oracle_gap_percent": 10.0,
    "mean_p1_sd": 1.9,  # half of 3.8 mm, the spread on this split at 4 epochs before the issue
}


def train_command(flags: list[str], seed: int, run_dir: Path, data_dir: str) -> list[str]:
    return [
        "graphmdn-tf",
        "train",
        *SHARED_FLAGS,
        "--data-dir",
        data_dir,
        "--seed",
        str(seed),
        "--run-dir",
        str(run_dir),
        "--verbose",
        "2",
        *flags,
    ]


def run_command(command: list[str]) -> None:
    """Print a `graphmdn-tf ...` command and run it with this interpreter's package (no PATH lookup)."""
    print("$", shlex.join(command), flush=True)
    subprocess.run([sys.executable, "-m", "graphmdn_tf.cli", *command[1:]], check=True)


def ensure_run(flags: list[str], seed: int, run_dir: Path, data_dir: str) -> None:
    """Train the run unless it is finished (an unfinished one resumes), then score test and validation
    (a calibrated run with its scales only: the run it was copied from is the uncalibrated row)."""
    if not RunDirectory(run_dir).is_finished():
        run_command(train_command(flags, seed, run_dir, data_dir))
    if not (run_dir / f"{RESULTS_STEM}.json").is_file():
        evaluate_run(run_dir, num_samples=NUM_SAMPLES, progress=False, calibration="on")
    if not (
        RunDirectory(run_dir).evaluation_dir(VALIDATION_TAG) / f"{RESULTS_STEM}.json"
    ).is_file():
        evaluate_run(
            run_dir, num_samples=NUM_SAMPLES, progress=False, split="validation", calibration="on"
        )


def run_metrics(results: dict) -> dict:
    """The goal's figures of one evaluation (a results.json)."""
    p1 = {row["method"]: row["average"] for row in results["rows"] if row["protocol"] == 1}
    by_label = {method.partition(" (")[2].rstrip(")"): value for method, value in p1.items()}
    # A calibrated run's evaluation also holds the model without its scales, labelled 'uncalibrated'.
    (uncertainty,) = [
        summary for label, summary in results["uncertainty"].items() if "uncalibrated" not in label
    ]
    levels = uncertainty["calibration"]["levels"]
    level = min(range(len(levels)), key=lambda index: abs(levels[index] - COVERAGE_LEVEL))
    return {
        "mean": by_label["Mean"],
        "oracle": by_label["Oracle"],
        "best_of": by_label[f"Best of {NUM_SAMPLES} samples"],
        "selectors": {label: by_label[label] for label in SELECTORS if label in by_label},
        "ece": uncertainty["ece"],
        "ece_worst_joint": max(uncertainty["ece_per_joint"].values()),
        "ece_worst_joint_name": max(
            uncertainty["ece_per_joint"], key=uncertainty["ece_per_joint"].get
        ),
        "coverage_90": uncertainty["calibration"]["observed"][level],
        "effective_kernels": uncertainty["effective_kernels"],
    }


def spread(values: list[float]) -> dict:
    return {
        "mean": statistics.fmean(values),
        "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
        "values": values,
    }


def summarize(per_seed: list[dict]) -> dict:
    """Mean ± sd over the seeds of every figure, the best selector, and the goal's verdicts."""
    summary = {
        key: spread([run[key] for run in per_seed])
        for key in (
            "mean",
            "oracle",
            "best_of",
            "ece",
            "ece_worst_joint",
            "coverage_90",
            "effective_kernels",
        )
    }
    gaps = [100.0 * (run["mean"] - run["oracle"]) / run["mean"] for run in per_seed]
    summary["oracle_gap_percent"] = spread(gaps)
    selectors = {
        label: statistics.fmean(run["selectors"][label] for run in per_seed)
        for label in per_seed[0]["selectors"]
    }
    best = min(selectors, key=selectors.get)
    summary["best_selector"] = {
        "label": best,
        **spread([run["selectors"][best] for run in per_seed]),
    }
    summary["worst_joints"] = [run["ece_worst_joint_name"] for run in per_seed]
    low, high = GOAL["coverage_90"]
    mean_p1 = summary["mean"]["mean"]
    summary["goal"] = {
        "ece": summary["ece"]["mean"] <= GOAL["ece"],
        "ece_worst_joint": summary["ece_worst_joint"]["mean"] <= GOAL["ece_worst_joint"],
        "coverage_90": low <= summary["coverage_90"]["mean"] <= high,
        "best_of_below_mean": summary["best_of"]["mean"] < mean_p1,
        "oracle_gap": summary["oracle_gap_percent"]["mean"] >= GOAL["oracle_gap_percent"],
        "selector_below_mean": summary["best_selector"]["mean"] < mean_p1,
        # A spread needs the goal's three seeds; with fewer the line is not judged (None).
        "stable_seeds": summary["mean"]["sd"] <= GOAL["mean_p1_sd"] if len(per_seed) >= 3 else None,
    }
    return summary


CALIBRATED = "-calibrated"
COPIED = ("config.json", "model.keras", "training.json", "history.csv")


def ensure_calibrated(run_dir: Path, per_kernel: bool = False) -> Path:
    """A copy of a finished run (its config, model and training record) with `graphmdn-tf calibrate`
    applied, scored on both splits; the original run and its results stay as they are."""
    name, _, seed = run_dir.name.rpartition("-seed")
    target = run_dir.parent / f"{name}{CALIBRATED}-seed{seed}"
    if not RunDirectory(target).is_calibrated():
        target.mkdir(exist_ok=True)
        for file_name in COPIED:
            if (run_dir / file_name).is_file():
                shutil.copy2(run_dir / file_name, target / file_name)
        run_command(["graphmdn-tf", "calibrate", str(target), *(["--per-kernel"] * per_kernel)])
    ensure_run([], int(seed), target, "unused: the run is finished")
    return target


def is_scored(run_dir: Path) -> bool:
    validation = RunDirectory(run_dir).evaluation_dir(VALIDATION_TAG) / f"{RESULTS_STEM}.json"
    return (run_dir / f"{RESULTS_STEM}.json").is_file() and validation.is_file()


def variant_rows(
    name: str, flags: list[str], seeds, output_dir: Path, data_dir: str, train: bool = True
) -> dict | None:
    """The variant's row; with `train` False, of the seeds already trained and scored (None: none)."""
    if train:
        for seed in seeds:
            ensure_run(flags, seed, output_dir / f"{name}-seed{seed}", data_dir)
    else:
        seeds = [seed for seed in seeds if is_scored(output_dir / f"{name}-seed{seed}")]
        if not seeds:
            return None
    run_dirs = [output_dir / f"{name}-seed{seed}" for seed in seeds]
    splits = {}
    for split, folder in (("validation", f"evaluations/{VALIDATION_TAG}/"), ("test", "")):
        per_seed = [
            run_metrics(json.loads((run_dir / f"{folder}{RESULTS_STEM}.json").read_text()))
            for run_dir in run_dirs
        ]
        splits[split] = {"per_seed": per_seed, **summarize(per_seed)}
    run_name = f"RUN-{name.removesuffix(CALIBRATED)}"
    command = shlex.join(train_command(flags, 0, Path(run_name), data_dir)).replace(
        "--seed 0", "--seed S"
    )
    if name.endswith(CALIBRATED):
        command += f" && graphmdn-tf calibrate {run_name}"
    return {"name": name, "flags": flags, "seeds": list(seeds), "command": command, **splits}


def _pm(figure: dict, digits: int = 1) -> str:
    return f"{figure['mean']:.{digits}f} ± {figure['sd']:.{digits}f}"


def markdown(rows: list[dict]) -> str:
    """One table line per variant and split (validation first: settings are chosen on it)."""
    header = (
        "| variant | split | seeds | Mean P1 | Oracle P1 (gap) | best of 200 | best selector | "
        "ECE (worst joint) | coverage 90% | eff. kernels | goal lines met |\n"
        "|---|---|---|---:|---:|---:|---|---:|---:|---:|---|\n"
    )
    lines = []
    for row in rows:
        for split in ("validation", "test"):
            figures = row[split]
            met = [line for line, ok in figures["goal"].items() if ok]
            judged = [line for line, ok in figures["goal"].items() if ok is not None]
            selector = figures["best_selector"]
            lines.append(
                f"| {row['name']} | {split} | {','.join(map(str, row['seeds']))} | "
                f"{_pm(figures['mean'])} | "
                f"{_pm(figures['oracle'])} ({figures['oracle_gap_percent']['mean']:.1f}%) | "
                f"{_pm(figures['best_of'])} | {selector['label']} {_pm(selector)} | "
                f"{figures['ece']['mean']:.3f} ({figures['ece_worst_joint']['mean']:.3f}) | "
                f"{figures['coverage_90']['mean']:.2f} | "
                f"{_pm(figures['effective_kernels'], 2)} | "
                f"{len(met)}/{len(judged)}: {', '.join(met) or '-'} |"
            )
    commands = "\n".join(
        f"- {row['name']} (seeds {', '.join(map(str, row['seeds']))}): `{row['command']}`"
        for row in rows
    )
    if not rows:
        return header
    return header + "\n".join(lines) + "\n\nCommands:\n\n" + commands + "\n"


def parse_variant(text: str) -> tuple[str, list[str]]:
    name, separator, flags = text.partition("=")
    if not separator or not name or "/" in name:
        raise argparse.ArgumentTypeError(
            f"Expected --variant NAME=FLAGS (e.g. 'per-joint=--sigma-per-joint'). Received: {text!r}"
        )
    return name, shlex.split(flags)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True, help="folder with the CMU npz files")
    parser.add_argument("--output-dir", required=True, type=Path, help="runs and tables go here")
    parser.add_argument(
        "--variant",
        action="append",
        type=parse_variant,
        required=True,
        help="NAME=FLAGS: extra `graphmdn-tf train` flags of one variant (repeat the option)",
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--calibrate",
        action="append",
        default=[],
        metavar="NAME",
        help="also table variant NAME calibrated (`graphmdn-tf calibrate` on a copy of each of its "
        "runs, NAME-calibrated-seedS); its validation figures are those of the split it was fitted on",
    )
    parser.add_argument(
        "--no-train",
        action="store_true",
        help="train nothing: table the seeds already trained and scored (a variant's seeds may differ)",
    )
    args = parser.parse_args(argv)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    for name in args.calibrate:
        for seed in args.seeds:
            run_dir = args.output_dir / f"{name}-seed{seed}"
            if is_scored(run_dir):
                ensure_calibrated(run_dir)
    variants = list(args.variant) + [
        (f"{name}{CALIBRATED}", flags) for name, flags in args.variant if name in args.calibrate
    ]
    rows = [
        row
        for name, flags in variants
        for row in [
            variant_rows(
                name,
                flags,
                tuple(args.seeds),
                args.output_dir,
                args.data_dir,
                not args.no_train and not name.endswith(CALIBRATED),
            )
        ]
        if row is not None
    ]
    (args.output_dir / "hypotheses.json").write_text(json.dumps(rows, indent=2) + "\n")
    table = markdown(rows)
    (args.output_dir / "hypotheses.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
