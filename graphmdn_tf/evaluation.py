"""Paper-style evaluation: per-action Protocol #1 / #2 tables for Highest, Mean, Oracle and best-of-N.

For every test frame the model's hypotheses (Section 4.3) are turned into poses: Highest (the kernel with
the largest pi), Mean (sum_j pi_j mu_j), Oracle (the kernel closest to the ground truth) and, optionally,
the best of N poses sampled from the mixture; a SemGCN has its one prediction. Each pose gets its
Protocol #1 error (MPJPE) and Protocol #2 error (P-MPJPE, after Procrustes alignment) in millimetres.
The tables average per action class, and their average is the paper's: the unweighted mean over actions
of the per-action means (`graphmdn_tf.metrics.per_action_errors`). The test NLL is the mean negative
log-likelihood of the ground-truth poses (nats per pose, poses in metres).

Example:
    >>> result = evaluate_run("runs/graphmdn-standard-cmu")   # writes results.md/.csv/.json and a plot
    >>> print(result.to_markdown())
    >>> combine_results([result, evaluate_run("runs/semgcn-standard-cmu")]).write("runs", "comparison")
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
from tqdm.auto import tqdm

from graphmdn_tf.config import TrainingConfig
from graphmdn_tf.data.h36m import DEFAULT_SPLITS, H36M_ACTIONS
from graphmdn_tf.data.pipeline import load_samples
from graphmdn_tf.hypotheses import PREDICTION, selection_label
from graphmdn_tf.metrics import per_action_errors
from graphmdn_tf.runs import RESULTS_STEM, RunDirectory
from graphmdn_tf.scoring import CONVENTIONS, check_convention, frame_nll, score_outputs
from graphmdn_tf.viz import plt

PROTOCOLS = (1, 2)
PROTOCOL_NAMES = {1: "Protocol #1 (MPJPE, mm)", 2: "Protocol #2 (P-MPJPE, mm)"}

# The paper's column order and abbreviations (Tables 1-3); other action classes follow, sorted.
ACTION_ABBREVIATIONS = dict(zip(H36M_ACTIONS, (
    "Direct.", "Discuss", "Eating", "Greet", "Phone", "Photo", "Posing", "Purch.", "Sitting", "SittingD.",
    "Smoke", "Wait", "WalkD", "Walk", "WalkT.",
), strict=True))
AVERAGE = "Avg."


def evaluate_model(model, inputs_2d, targets_3d, *, num_samples: int = 0, batch_size: int = 4096,
                   seed: int = 0, convention: str = "paper",
                   progress: bool = True) -> tuple[dict, np.ndarray | None]:
    """Per-frame errors of every hypothesis over a whole test set, in chunks of `batch_size` frames,
    scored under `convention` (`CONVENTIONS`).

    Returns ({hypothesis: {protocol: errors [frames]}}, nll [frames] or None).
    """
    check_convention(convention)
    errors: dict = {}
    nll = []
    starts = range(0, len(inputs_2d), batch_size)
    for chunk, start in enumerate(tqdm(starts, desc="evaluating", unit="batch", disable=not progress)):
        inputs = np.asarray(inputs_2d[start:start + batch_size], np.float32)
        targets = np.asarray(targets_3d[start:start + batch_size], np.float32)
        outputs = keras.tree.map_structure(np.asarray, model.predict_on_batch(inputs))
        scores = score_outputs(outputs, targets, convention=convention, num_samples=num_samples, seed=(seed, chunk))
        for name, by_protocol in scores.items():
            for protocol, values in by_protocol.items():
                errors.setdefault(name, {}).setdefault(protocol, []).append(values)
        chunk_nll = frame_nll(outputs, targets)
        if chunk_nll is not None:
            nll.append(chunk_nll)
    merged = {name: {protocol: np.concatenate(parts) for protocol, parts in by_protocol.items()}
              for name, by_protocol in errors.items()}
    return merged, (np.concatenate(nll) if nll else None)


# ---- tables ----


@dataclass(frozen=True)
class ResultRow:
    """One table row: a method's per-action errors (mm) under one protocol, and the paper's average."""

    protocol: int
    method: str
    per_action: dict
    average: float


@dataclass(frozen=True)
class EvaluationResult:
    """Per-action tables of one or several runs.

    Attributes:
        actions: column order (action classes).
        rows: `ResultRow`s, Protocol #1 rows first.
        test_nll: {model label: mean test NLL} (mixture models only).
        num_frames: test samples evaluated (frame x camera; the field keeps its name in results.json).
        notes: lines describing the runs (data, subjects, checkpoints).
        convention: how poses were scored (a key of `CONVENTIONS`).
    """

    actions: tuple
    rows: tuple
    test_nll: dict = field(default_factory=dict)
    num_frames: int = 0
    notes: tuple = ()
    convention: str = "paper"

    def row(self, protocol: int, method: str) -> ResultRow:
        for row in self.rows:
            if row.protocol == protocol and row.method == method:
                return row
        raise KeyError(f"No row {method!r} under Protocol #{protocol}. Rows: {[r.method for r in self.rows]}")

    def methods(self) -> list[str]:
        return list(dict.fromkeys(row.method for row in self.rows))

    def to_markdown(self) -> str:
        headers = [ACTION_ABBREVIATIONS.get(action, action) for action in self.actions] + [AVERAGE]
        lines = []
        for protocol in PROTOCOLS:
            lines += [f"### {PROTOCOL_NAMES[protocol]}", "", "| Method | " + " | ".join(headers) + " |",
                      "|---|" + "---:|" * len(headers)]
            for row in (row for row in self.rows if row.protocol == protocol):
                values = [row.per_action[action] for action in self.actions] + [row.average]
                lines.append(f"| {row.method} | " + " | ".join(f"{value:.1f}" for value in values) + " |")
            lines.append("")
        if self.test_nll:
            lines += ["| Model | Test NLL (nats per pose) |", "|---|---:|"]
            lines += [f"| {label} | {value:.2f} |" for label, value in self.test_nll.items()]
            lines.append("")
        lines += [f"{self.num_frames} test samples (frame x camera). Average: unweighted mean over actions of the per-action means.",
                  f"Scoring convention '{self.convention}': {CONVENTIONS[self.convention]}."]
        lines += list(self.notes)
        return "\n".join(lines) + "\n"

    def to_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["protocol", "method", *self.actions, "average"])
        for row in self.rows:
            writer.writerow([row.protocol, row.method, *(f"{row.per_action[a]:.3f}" for a in self.actions),
                             f"{row.average:.3f}"])
        return buffer.getvalue()

    def to_dict(self) -> dict:
        return {
            "actions": list(self.actions),
            "rows": [{"protocol": r.protocol, "method": r.method, "per_action": r.per_action, "average": r.average}
                     for r in self.rows],
            "test_nll": self.test_nll,
            "num_frames": self.num_frames,
            "notes": list(self.notes),
            "convention": self.convention,
        }

    @classmethod
    def from_dict(cls, values: Mapping) -> EvaluationResult:
        return cls(
            actions=tuple(values["actions"]),
            rows=tuple(ResultRow(**row) for row in values["rows"]),
            test_nll=dict(values.get("test_nll", {})),
            num_frames=int(values.get("num_frames", 0)),
            notes=tuple(values.get("notes", ())),
            # Results written before conventions existed scored the raw outputs.
            convention=check_convention(values.get("convention", "raw")),
        )

    def write(self, directory: str | Path, stem: str = "results") -> dict:
        """Write `<stem>.md`, `<stem>.csv`, `<stem>.json` and the plot `<stem>_per_action.png`."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        paths = {suffix: directory / f"{stem}.{suffix}" for suffix in ("md", "csv", "json")}
        paths["md"].write_text(self.to_markdown())
        paths["csv"].write_text(self.to_csv())
        paths["json"].write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        paths["png"] = plot_per_action(self, directory / f"{stem}_per_action.png")
        return paths


def action_order(actions) -> tuple:
    """The paper's order for Human3.6M action classes, then any others sorted."""
    present = set(actions)
    known = [action for action in ACTION_ABBREVIATIONS if action in present]
    return tuple(known + sorted(present - set(known)))


def result_rows(errors: Mapping, action_labels, method_names: Mapping) -> tuple:
    """Rows from per-frame errors ({hypothesis: {protocol: [frames]}}) and per-frame action classes."""
    rows = []
    for protocol in PROTOCOLS:
        for hypothesis, method in method_names.items():
            table, average = per_action_errors(errors[hypothesis][protocol], action_labels)
            rows.append(ResultRow(protocol, method, table, average))
    return tuple(rows)


def method_names(model: str, preset: str, hypothesis_names, mixture: str = "pose") -> dict:
    """{hypothesis: row label} in the paper's style: 'GraphMDN (Mean)', 'GraphMDN (Oracle, Wide)', 'SemGCN'.

    Node-level GraphMDNs are marked 'Node' (the paper reports pose level only, unmarked).
    """
    base = "GraphMDN" if model == "graphmdn" else "SemGCN"
    suffix = [] if preset == "standard" else [preset.capitalize() if preset == "wide" else preset.upper()]
    if model == "graphmdn" and mixture == "node":
        suffix.append("Node")
    names = {}
    for hypothesis in hypothesis_names:
        qualifiers = suffix if hypothesis == PREDICTION else [selection_label(hypothesis)] + suffix
        names[hypothesis] = base + (f" ({', '.join(qualifiers)})" if qualifiers else "")
    return names


def model_label(model: str, preset: str, mixture: str = "pose") -> str:
    return method_names(model, preset, [PREDICTION], mixture)[PREDICTION]


DATA_FIELDS = ("dataset", "data_dir", "keypoints", "test_subjects", "actions")
"""The data settings `evaluate_run` can take from elsewhere than the run's config."""


def evaluation_data(config: TrainingConfig, **overrides) -> TrainingConfig:
    """The run's config with the data settings in `overrides` (None: the run's own) for evaluation.

    A new `dataset` without `test_subjects` takes that data set's default test split (if it has one).
    """
    unknown = sorted(set(overrides) - set(DATA_FIELDS))
    if unknown:
        raise ValueError(f"Expected data settings from {DATA_FIELDS}. Received: {unknown}")
    given = {name: value for name, value in overrides.items() if value is not None}
    if "dataset" in given and "test_subjects" not in given and given["dataset"] in DEFAULT_SPLITS:
        given["test_subjects"] = DEFAULT_SPLITS[given["dataset"]][1]
    return config.replace(**given)


def data_tag(config: TrainingConfig) -> str:
    """A folder name for results on these data: '<dataset>-<keypoints>-<subjects>[-<n>actions]'."""
    actions = f"-{len(config.actions)}actions" if config.actions else ""
    return f"{config.dataset}-{config.keypoints}-{'+'.join(config.test_subjects)}{actions}"


def evaluate_run(run_dir: str | Path, *, num_samples: int = 200, batch_size: int = 4096, seed: int = 0,
                 stride: int | None = None, convention: str = "paper", write: bool = True, progress: bool = True,
                 dataset: str | None = None, data_dir: str | Path | None = None, keypoints: str | None = None,
                 test_subjects=None, actions=None, results_dir: str | Path | None = None) -> EvaluationResult:
    """Evaluate a finished run (RUN_DIR/config.json and model.keras) on its test subjects, or on other data.

    Args:
        run_dir: the directory `train` wrote.
        num_samples: N for the best-of-N row (poses sampled from the mixture); 0 leaves it out.
        batch_size: samples per prediction chunk.
        seed: sampling seed.
        stride: evaluate every stride-th test frame (default: the run's stride).
        convention: how poses are scored, 'paper' (the authors' evaluation, default) or 'raw'
            (`CONVENTIONS`); the tables say which.
        write: write results.md, results.csv, results.json and results_per_action.png (`results_dir`).
        dataset, data_dir, keypoints, test_subjects, actions: data to evaluate on instead of the run's
            own (each None: the run's setting; see `evaluation_data`).
        results_dir: where the results go; default the run directory for its own data, and
            RUN_DIR/evaluations/<data_tag> for other data, so the run's own results are never replaced.

    Returns:
        An `EvaluationResult`.
    """
    run = RunDirectory(run_dir)
    run.require_finished()
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 0:
        raise ValueError(f"Expected num_samples to be an integer >= 0. Received: num_samples={num_samples!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"Expected batch_size to be a positive integer. Received: batch_size={batch_size!r}")
    config = run.load_config()
    data = evaluation_data(config, dataset=dataset, data_dir=data_dir, keypoints=keypoints,
                           test_subjects=test_subjects, actions=actions)
    samples = load_samples(
        data.dataset, data.data_dir, keypoints=data.keypoints, subjects=data.test_subjects,
        actions=data.actions, stride=stride or data.stride, progress=progress,
    )
    model = run.load_model()
    errors, nll = evaluate_model(model, samples.inputs_2d, samples.targets_3d, num_samples=num_samples,
                                 batch_size=batch_size, seed=seed, convention=convention, progress=progress)
    result = _run_result(config, data, run, samples, errors, nll, convention)
    if write:
        result.write(Path(results_dir) if results_dir is not None else default_results_dir(run, config, data),
                     RESULTS_STEM)
    return result


def default_results_dir(run: RunDirectory, config: TrainingConfig, data: TrainingConfig) -> Path:
    """The run directory for results on its own data, RUN_DIR/evaluations/<data_tag> for other data."""
    own = all(getattr(data, name) == getattr(config, name) for name in DATA_FIELDS)
    return run.path if own else run.evaluation_dir(data_tag(data))


def _run_result(config, data, run, samples, errors, nll, convention) -> EvaluationResult:
    label = model_label(config.model, config.preset, config.mixture)
    on = "" if data == config else f"; evaluated on {data.dataset} {','.join(data.test_subjects)} ({data.keypoints})"
    return EvaluationResult(
        actions=action_order(samples.action_classes),
        rows=result_rows(errors, samples.action_classes, method_names(config.model, config.preset, errors,
                                                                      config.mixture)),
        test_nll={} if nll is None else {label: float(nll.mean())},
        num_frames=len(samples),
        notes=(f"{label}: {run.path} ({config.dataset}, train {','.join(config.train_subjects)}, test "
               f"{','.join(config.test_subjects)}, {config.epochs} epochs{on}).",),
        convention=convention,
    )


def combine_results(results: Sequence[EvaluationResult]) -> EvaluationResult:
    """One table from several runs' results (same test actions), Protocol #1 rows first."""
    if not results:
        raise ValueError("Expected at least one EvaluationResult to combine.")
    actions = results[0].actions
    for result in results[1:]:
        if set(result.actions) != set(actions):
            raise ValueError(f"Expected results over the same actions. Received: {actions} and {result.actions}")
    conventions = sorted({result.convention for result in results})
    if len(conventions) > 1:
        raise ValueError(f"Expected results scored under one convention. Received: {conventions}")
    rows = tuple(row for protocol in PROTOCOLS for result in results for row in result.rows if row.protocol == protocol)
    labels = [(row.protocol, row.method) for row in rows]
    repeated = sorted({method for protocol, method in labels if labels.count((protocol, method)) > 1})
    if repeated:
        raise ValueError(
            f"Expected distinct method names across the combined results. Repeated: {repeated} "
            "(two runs of the same model, preset and mixture level?)"
        )
    return EvaluationResult(
        actions=actions,
        rows=rows,
        test_nll={label: value for result in results for label, value in result.test_nll.items()},
        num_frames=results[0].num_frames,
        notes=tuple(note for result in results for note in result.notes),
        convention=conventions[0],
    )


def plot_per_action(result: EvaluationResult, path: str | Path) -> Path:
    """Grouped bars of every method's per-action error, one panel per protocol; saved as PNG."""
    columns = list(result.actions) + [AVERAGE]
    methods = result.methods()
    width_inches = min(20.0, max(6.0, 0.35 * len(columns) * (1 + len(methods)) / 2) + 2.5)  # + the legend
    figure, axes = plt.subplots(len(PROTOCOLS), 1, figsize=(width_inches, 7))
    width = 0.8 / len(methods)
    positions = np.arange(len(columns))
    for axis, protocol in zip(axes, PROTOCOLS):
        for index, method in enumerate(methods):
            row = result.row(protocol, method)
            values = [row.per_action[action] for action in result.actions] + [row.average]
            axis.bar(positions + (index - (len(methods) - 1) / 2) * width, values, width, label=method)
        axis.set_xticks(positions, [ACTION_ABBREVIATIONS.get(c, c) for c in columns], rotation=45, ha="right")
        axis.set_ylabel("error (mm)")
        axis.set_title(PROTOCOL_NAMES[protocol])
        axis.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
