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
import tensorflow as tf
import tensorflow_probability as tfp
from tqdm.auto import tqdm

from graphmdn_tf import hypotheses
from graphmdn_tf.data.pipeline import load_samples
from graphmdn_tf.distributions.mixture import mixture_distribution
from graphmdn_tf.metrics import mpjpe, p_mpjpe, per_action_errors
from graphmdn_tf.models.build import load_model
from graphmdn_tf.training.config import TrainingConfig
from graphmdn_tf.viz import plt

MILLIMETRES = 1000.0
PROTOCOLS = (1, 2)
PROTOCOL_NAMES = {1: "Protocol #1 (MPJPE, mm)", 2: "Protocol #2 (P-MPJPE, mm)"}
SELECTION_TITLES = {"highest": "Highest", "mean": "Mean", "oracle": "Oracle"}

# The paper's column order and abbreviations (Tables 1-3); other action classes follow, sorted.
ACTION_ABBREVIATIONS = {
    "Directions": "Direct.", "Discussion": "Discuss", "Eating": "Eating", "Greeting": "Greet",
    "Phoning": "Phone", "Photo": "Photo", "Posing": "Posing", "Purchases": "Purch.", "Sitting": "Sitting",
    "SittingDown": "SittingD.", "Smoking": "Smoke", "Waiting": "Wait", "WalkDog": "WalkD",
    "Walking": "Walk", "WalkTogether": "WalkT.",
}
AVERAGE = "Avg."


# ---- hypotheses and per-frame errors (shared with the TensorBoard summaries) ----

# How poses are scored. 'paper' is what the authors' evaluation scripts do, which produced the paper's
# tables: GraphMDN (`main_eval.py`) sets the root joint of every kernel mean to the origin before
# choosing hypotheses and takes the Protocol #2 Oracle as the kernel with the lowest error *after*
# alignment; SemGCN (`main_gcn.py`) re-centres each prediction on its own root. 'raw' scores the model's
# outputs as they are, with the Protocol #2 Oracle being the Protocol #1 Oracle's pose. Targets are
# root-relative either way. The test NLL always uses the model's own (raw) distribution.
CONVENTIONS = {
    "paper": "the authors' evaluation (GraphMDN kernels' root joint set to the origin, SemGCN poses re-centred "
             "on their root, Protocol #2 Oracle chosen after alignment)",
    "raw": "the model's outputs as they are (Protocol #2 Oracle = the Protocol #1 Oracle's pose)",
}


def check_convention(convention: str) -> str:
    if convention not in CONVENTIONS:
        raise ValueError(f"Expected convention to be one of {tuple(CONVENTIONS)}. Received: convention={convention!r}")
    return convention


def is_mixture(outputs) -> bool:
    """True for a GraphMDN's parameter dict, False for a deterministic pose array [batch, N, 3]."""
    return isinstance(outputs, Mapping)


def selection_poses(outputs, targets_3d=None, *, num_samples: int = 0, seed=None) -> dict:
    """Hypothesis name -> poses [batch, N, 3] (NumPy).

    A mixture gives 'highest', 'mean', and with targets 'oracle' and (num_samples > 0)
    'best_of_<num_samples>' (sampled with `seed`: an int, or a pair of ints for stateless, reproducible
    sampling); a deterministic model gives 'prediction'.
    """
    if not is_mixture(outputs):
        return {"prediction": np.asarray(outputs, np.float32)}
    poses = {"highest": hypotheses.highest(outputs).numpy(), "mean": hypotheses.mean(outputs).numpy()}
    if targets_3d is not None:
        poses["oracle"] = hypotheses.oracle(outputs, targets_3d).numpy()
        if num_samples > 0:
            poses[f"best_of_{num_samples}"] = best_of_sampled(outputs, targets_3d, num_samples, seed)
    return poses


def best_of_sampled(outputs, targets_3d, num_samples: int, seed=None, group_size: int = 25) -> np.ndarray:
    """Of `num_samples` poses sampled from the mixture, the one closest to the target: [batch, N, 3].

    Samples are drawn `group_size` at a time (TFP draws every kernel for every sample, so memory grows
    with samples x kernels x batch) and the best so far kept.
    """
    targets_3d = np.asarray(targets_3d, np.float32)
    groups = -(-num_samples // group_size)
    seeds = tfp.random.split_seed(seed, n=groups) if seed is not None else [None] * groups
    best, best_error = None, None
    for group in range(groups):
        count = min(group_size, num_samples - group * group_size)
        candidate = hypotheses.best_of_samples(hypotheses.sample_poses(outputs, count, seed=seeds[group]),
                                               targets_3d).numpy()
        error = mpjpe(candidate, targets_3d, per_frame=True)
        if best is None:
            best, best_error = candidate, error
        else:
            better = error < best_error
            best[better], best_error[better] = candidate[better], error[better]
    return best


def pose_errors(poses: Mapping, targets_3d) -> dict:
    """{hypothesis: {1: Protocol #1 errors [batch], 2: Protocol #2 errors [batch]}} in millimetres."""
    return {
        name: {1: MILLIMETRES * mpjpe(pose, targets_3d, per_frame=True),
               2: MILLIMETRES * p_mpjpe(pose, targets_3d, per_frame=True)}
        for name, pose in poses.items()
    }


def apply_convention(outputs, convention: str = "paper"):
    """The outputs as `convention` scores them (see `CONVENTIONS`): NumPy, the inputs unchanged."""
    check_convention(convention)
    if convention == "raw":
        return outputs
    if is_mixture(outputs):
        mu = np.array(outputs["mu"], dtype=np.float32, copy=True)  # [B, M, N, 3]
        mu[:, :, 0] = 0.0
        return {**outputs, "mu": mu}
    poses = np.asarray(outputs, np.float32)
    return poses - poses[:, :1]


def oracle_aligned_errors(mu, targets_3d) -> np.ndarray:
    """Protocol #2 Oracle: per frame, the lowest P-MPJPE (mm) over the kernel means mu [B, M, N, 3]."""
    mu = np.asarray(mu, np.float32)
    frames, kernels = mu.shape[:2]
    targets = np.repeat(np.asarray(targets_3d, np.float32), kernels, axis=0)  # [B * M, N, 3]
    errors = p_mpjpe(mu.reshape(frames * kernels, *mu.shape[2:]), targets, per_frame=True)
    return MILLIMETRES * errors.reshape(frames, kernels).min(axis=1)


def score_outputs(outputs, targets_3d, *, convention: str = "paper", num_samples: int = 0, seed=None) -> dict:
    """{hypothesis: {1: Protocol #1 errors [batch], 2: Protocol #2 errors [batch]}} (mm) under `convention`."""
    scored = apply_convention(outputs, convention)
    errors = pose_errors(selection_poses(scored, targets_3d, num_samples=num_samples, seed=seed), targets_3d)
    if convention == "paper" and "oracle" in errors:
        errors["oracle"][2] = oracle_aligned_errors(scored["mu"], targets_3d)
    return errors


def frame_nll(outputs, targets_3d) -> np.ndarray | None:
    """Negative log-likelihood of each target pose under the mixture [batch]; None for SemGCN."""
    if not is_mixture(outputs):
        return None
    targets_3d = tf.convert_to_tensor(targets_3d, tf.float32)
    return -mixture_distribution(outputs).log_prob(targets_3d).numpy()


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
        num_frames: test frames evaluated.
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
        lines += [f"{self.num_frames} test frames. Average: unweighted mean over actions of the per-action means.",
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
        if hypothesis == "prediction":
            qualifiers = suffix
        elif hypothesis.startswith("best_of_"):
            qualifiers = [f"Best of {hypothesis.removeprefix('best_of_')} samples"] + suffix
        else:
            qualifiers = [SELECTION_TITLES[hypothesis]] + suffix
        names[hypothesis] = base + (f" ({', '.join(qualifiers)})" if qualifiers else "")
    return names


def model_label(model: str, preset: str, mixture: str = "pose") -> str:
    return method_names(model, preset, ["prediction"], mixture)["prediction"]


def evaluate_run(run_dir: str | Path, *, num_samples: int = 200, batch_size: int = 4096, seed: int = 0,
                 stride: int | None = None, convention: str = "paper", write: bool = True,
                 progress: bool = True) -> EvaluationResult:
    """Evaluate a finished run (RUN_DIR/config.json and model.keras) on its test subjects.

    Args:
        run_dir: the directory `train` wrote.
        num_samples: N for the best-of-N row (poses sampled from the mixture); 0 leaves it out.
        batch_size: frames per prediction chunk.
        seed: sampling seed.
        stride: evaluate every stride-th test frame (default: the run's stride).
        convention: how poses are scored, 'paper' (the authors' evaluation, default) or 'raw'
            (`CONVENTIONS`); the tables say which.
        write: write results.md, results.csv, results.json and results_per_action.png in `run_dir`.

    Returns:
        An `EvaluationResult`.
    """
    run_dir = Path(run_dir)
    model_path = run_dir / "model.keras"
    if not model_path.is_file():
        raise FileNotFoundError(
            f"Expected a finished training run with {model_path} (written when `train` completes). "
            f"Not found; train (or resume) the run first: graphmdn-tf train --run-dir {run_dir} ..."
        )
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 0:
        raise ValueError(f"Expected num_samples to be an integer >= 0. Received: num_samples={num_samples!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"Expected batch_size to be a positive integer. Received: batch_size={batch_size!r}")
    config = TrainingConfig.from_json(run_dir / "config.json")
    samples = load_samples(
        config.dataset, config.data_dir, keypoints=config.keypoints, subjects=config.test_subjects,
        actions=config.actions, stride=stride or config.stride, progress=progress,
    )
    model = load_model(model_path)
    errors, nll = evaluate_model(model, samples.inputs_2d, samples.targets_3d, num_samples=num_samples,
                                 batch_size=batch_size, seed=seed, convention=convention, progress=progress)
    labels = samples.action_classes
    names = method_names(config.model, config.preset, errors, config.mixture)
    result = EvaluationResult(
        actions=action_order(labels),
        rows=result_rows(errors, labels, names),
        test_nll={} if nll is None else {model_label(config.model, config.preset, config.mixture): float(nll.mean())},
        num_frames=len(samples),
        notes=(f"{model_label(config.model, config.preset, config.mixture)}: {run_dir} ({config.dataset}, "
               f"train {','.join(config.train_subjects)}, test {','.join(config.test_subjects)}, "
               f"{config.epochs} epochs).",),
        convention=convention,
    )
    if write:
        result.write(run_dir, "results")
    return result


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
