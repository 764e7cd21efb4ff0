"""Evaluation tables: per-action rows of every selection under every metric, and their files.

Each row is one method (a selection of one model) under one metric of `graphmdn_tf.scoring.METRICS`:
Protocol #1 (MPJPE) and #2 (P-MPJPE) in millimetres, PCK at 150 mm and its AUC over 0-150 mm in
percent. The per-action columns average the frames of each action class; 'Avg.' is the paper's
average, the unweighted mean over actions of the per-action means (`metrics.per_action_errors`);
'Ambig.' is the mean over the ambiguous test samples (`uncertainty.ambiguous_samples`: a 2D input
nearly equal to another sample's while the 3D poses differ), where a mixture should beat a point
estimate. A mixture model adds its uncertainty summary (`EvaluationResult.uncertainty`: NLL overall,
per joint and on the ambiguous subset, calibration, sharpness, kernel diversity).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from graphmdn_tf.data.h36m import H36M_ACTIONS
from graphmdn_tf.evaluation.probabilistic import plot_uncertainty
from graphmdn_tf.hypotheses import PREDICTION, selection_label
from graphmdn_tf.metrics import per_action_errors
from graphmdn_tf.runs import RESULTS_SUFFIXES
from graphmdn_tf.scoring import CONVENTIONS, METRICS, PROTOCOLS, check_convention
from graphmdn_tf.viz import plt
from graphmdn_tf.written import claim

PROTOCOL_NAMES = METRICS
AMBIGUOUS = "Ambig."

# The paper's column order and abbreviations (Tables 1-3); other action classes follow, sorted.
ACTION_ABBREVIATIONS = dict(
    zip(
        H36M_ACTIONS,
        (
            "Direct.",
            "Discuss",
            "Eating",
            "Greet",
            "Phone",
            "Photo",
            "Posing",
            "Purch.",
            "Sitting",
            "SittingD.",
            "Smoke",
            "Wait",
            "WalkD",
            "Walk",
            "WalkT.",
        ),
        strict=True,
    )
)
AVERAGE = "Avg."


# ---- tables ----


@dataclass(frozen=True)
class ResultRow:
    """One table row: a method's per-action scores under one metric (a key of `METRICS`; the field keeps
    the name `protocol` in results.json), the paper's average and the ambiguous subset's mean."""

    protocol: int | str
    method: str
    per_action: dict
    average: float
    ambiguous: float | None = None


def _cell(value) -> str:
    return (
        "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.1f}"
    )


@dataclass(frozen=True)
class EvaluationResult:
    """Per-action tables of one or several runs.

    Attributes:
        actions: column order (action classes).
        rows: `ResultRow`s, grouped by metric in `METRICS` order (Protocol #1 rows first).
        test_nll: {model label: mean test NLL} (mixture models only).
        num_frames: test samples evaluated (frame x camera; the field keeps its name in results.json).
        notes: lines describing the runs (data, subjects, checkpoints).
        convention: how poses were scored (a key of `CONVENTIONS`).
        num_ambiguous: test samples in the ambiguous subset (the 'Ambig.' column).
        uncertainty: {model label: summary} for mixture models (`evaluation.probabilistic.uncertainty_summary`).
        diversity: {model label: per-frame diversity arrays} for the diversity plot (not in results.json).
    """

    actions: tuple
    rows: tuple
    test_nll: dict = field(default_factory=dict)
    num_frames: int = 0
    notes: tuple = ()
    convention: str = "paper"
    num_ambiguous: int = 0
    uncertainty: dict = field(default_factory=dict)
    diversity: dict = field(default_factory=dict, compare=False, repr=False)

    def row(self, protocol, method: str) -> ResultRow:
        for row in self.rows:
            if row.protocol == protocol and row.method == method:
                return row
        raise KeyError(
            f"No row {method!r} under {METRICS.get(protocol, protocol)}. "
            f"Rows: {[r.method for r in self.rows]}"
        )

    def methods(self) -> list[str]:
        return list(dict.fromkeys(row.method for row in self.rows))

    def metrics(self) -> list:
        """The metrics the rows hold, in `METRICS` order."""
        present = {row.protocol for row in self.rows}
        return [metric for metric in METRICS if metric in present]

    def to_markdown(self) -> str:
        headers = [ACTION_ABBREVIATIONS.get(action, action) for action in self.actions] + [
            AVERAGE,
            AMBIGUOUS,
        ]
        lines = []
        for metric in self.metrics():
            lines += [
                f"### {METRICS[metric]}",
                "",
                "| Method | " + " | ".join(headers) + " |",
                "|---|" + "---:|" * len(headers),
            ]
            for row in (row for row in self.rows if row.protocol == metric):
                values = [row.per_action[action] for action in self.actions] + [
                    row.average,
                    row.ambiguous,
                ]
                lines.append(
                    f"| {row.method} | " + " | ".join(_cell(value) for value in values) + " |"
                )
            lines.append("")
        if self.test_nll:
            lines += ["| Model | Test NLL (nats per pose) |", "|---|---:|"]
            lines += [f"| {label} | {value:.2f} |" for label, value in self.test_nll.items()]
            lines.append("")
        lines += uncertainty_markdown(self.uncertainty)
        lines += [
            f"{self.num_frames} test samples (frame x camera). Average: unweighted mean over actions of the per-action means.",
            f"{AMBIGUOUS}: mean over the {self.num_ambiguous} ambiguous test samples (2D input within 6 px RMS "
            "of another sample's, 3D poses 50 mm or more apart; '-' when there are none).",
            f"Scoring convention '{self.convention}': {CONVENTIONS[self.convention]}.",
        ]
        lines += list(self.notes)
        return "\n".join(lines) + "\n"

    def to_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["protocol", "method", *self.actions, "average", "ambiguous"])
        for row in self.rows:
            ambiguous = (
                "" if row.ambiguous is None or math.isnan(row.ambiguous) else f"{row.ambiguous:.3f}"
            )
            writer.writerow(
                [
                    row.protocol,
                    row.method,
                    *(f"{row.per_action[a]:.3f}" for a in self.actions),
                    f"{row.average:.3f}",
                    ambiguous,
                ]
            )
        return buffer.getvalue()

    def to_dict(self) -> dict:
        return {
            "actions": list(self.actions),
            "rows": [
                {
                    "protocol": r.protocol,
                    "method": r.method,
                    "per_action": r.per_action,
                    "average": r.average,
                    "ambiguous": None
                    if r.ambiguous is None or math.isnan(r.ambiguous)
                    else r.ambiguous,
                }
                for r in self.rows
            ],
            "test_nll": self.test_nll,
            "num_frames": self.num_frames,
            "notes": list(self.notes),
            "convention": self.convention,
            "num_ambiguous": self.num_ambiguous,
            "uncertainty": self.uncertainty,
        }

    @classmethod
    def from_dict(cls, values: Mapping) -> EvaluationResult:
        return cls(
            actions=tuple(values["actions"]),
            rows=tuple(ResultRow(**row) for row in values["rows"]),
            test_nll=dict(values.get("test_nll", {})),
            num_frames=int(values.get("num_frames", 0)),
            notes=tuple(values.get("notes", ())),
            convention=check_convention(values["convention"]),
            num_ambiguous=int(values.get("num_ambiguous", 0)),
            uncertainty=dict(values.get("uncertainty", {})),
        )

    def file_names(self, stem: str = "results") -> list[str]:
        """The names `write(directory, stem)` writes: `<stem>.md`, `.csv`, `.json`, `_per_action.png` and,
        for mixture models, `_calibration.png` and (with per-frame diversity) `_diversity.png`."""
        present = {
            "_calibration.png": bool(self.uncertainty),
            "_diversity.png": bool(self.diversity),
        }
        return [f"{stem}{suffix}" for suffix in RESULTS_SUFFIXES if present.get(suffix, True)]

    def write(self, directory: str | Path, stem: str = "results", *, ours: bool = False) -> dict:
        """Write `file_names(stem)` in `directory`: the tables as Markdown, CSV and JSON, the plot
        `<stem>_per_action.png` and, for mixture models, `<stem>_calibration.png` (reliability diagram)
        and `<stem>_diversity.png`. Returns {'md', 'csv', 'json', 'png', ['calibration', 'diversity']: path}.

        `ours`: the folder belongs to graphmdn-tf by its layout (a run directory), so its files of these
        names are replaced. Otherwise a file of these names that graphmdn-tf did not write there is never
        replaced (`graphmdn_tf.written`).

        Raises:
            `graphmdn_tf.written.NotOurFileError` (a FileExistsError): such a file exists; nothing is written.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        if not ours:
            claim(directory, self.file_names(stem))
        paths = {suffix: directory / f"{stem}.{suffix}" for suffix in ("md", "csv", "json")}
        paths["md"].write_text(self.to_markdown())
        paths["csv"].write_text(self.to_csv())
        paths["json"].write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        paths["png"] = plot_per_action(self, directory / f"{stem}_per_action.png")
        paths.update(plot_uncertainty(self, directory, stem))
        return paths


def uncertainty_markdown(summaries: Mapping) -> list[str]:
    """The uncertainty tables of `EvaluationResult.uncertainty`: one row per mixture model, then NLL per joint."""
    if not summaries:
        return []
    lines = [
        "### Uncertainty (the mixture's own distribution)",
        "",
        "| Model | NLL | NLL, ambiguous | ECE | coverage 90% | radius 50% (mm) | radius 90% (mm) "
        "| kernel distance (mm) | effective kernels |",
        "|---|" + "---:|" * 8,
    ]
    for label, summary in summaries.items():
        values = (
            summary["nll"],
            summary.get("nll_ambiguous"),
            summary["ece"],
            summary.get("coverage_90"),
            summary["sharpness_mm"]["50"],
            summary["sharpness_mm"]["90"],
            summary["pairwise_distance_mm"],
            summary["effective_kernels"],
        )
        formats = ("{:.2f}", "{:.2f}", "{:.3f}", "{:.3f}", "{:.1f}", "{:.1f}", "{:.1f}", "{:.2f}")
        lines.append(
            f"| {label} | "
            + " | ".join(
                "-" if value is None else form.format(value) for form, value in zip(formats, values)
            )
            + " |"
        )
    joints = list(next(iter(summaries.values()))["nll_per_joint"])
    lines += [
        "",
        "NLL per joint (nats, metres; the joint's marginal under the mixture):",
        "",
        "| Model | " + " | ".join(joints) + " |",
        "|---|" + "---:|" * len(joints),
    ]
    for label, summary in summaries.items():
        lines.append(
            f"| {label} | "
            + " | ".join(f"{summary['nll_per_joint'][joint]:.2f}" for joint in joints)
            + " |"
        )
    lines += [
        "",
        "ECE: mean |observed - predicted| over probability levels 5%-95% of each joint's mass within a "
        "radius of its mixture mean; coverage 90%: the observed frequency at the 90% level; "
        "radius p%: the mean radius holding p% of a joint's predicted mass "
        "(sharpness); kernel distance: pi-weighted mean MPJPE between kernel means; effective kernels: "
        "exp(entropy of pi).",
        "",
    ]
    return lines


def action_order(actions) -> tuple:
    """The paper's order for Human3.6M action classes, then any others sorted."""
    present = set(actions)
    known = [action for action in ACTION_ABBREVIATIONS if action in present]
    return tuple(known + sorted(present - set(known)))


def result_rows(errors: Mapping, action_labels, method_names: Mapping, ambiguous=None) -> tuple:
    """Rows from per-frame scores ({hypothesis: {metric: [frames]}}) and per-frame action classes, for
    every metric the scores hold (in `METRICS` order); `ambiguous`: [frames] bool, the subset whose mean
    fills the 'Ambig.' column (None or no frame: NaN)."""
    rows = []
    metrics = [metric for metric in METRICS if metric in next(iter(errors.values()))]
    for metric in metrics:
        for hypothesis, method in method_names.items():
            values = np.asarray(errors[hypothesis][metric])
            table, average = per_action_errors(values, action_labels)
            subset = (
                float(values[ambiguous].mean())
                if ambiguous is not None and np.any(ambiguous)
                else math.nan
            )
            rows.append(ResultRow(metric, method, table, average, subset))
    return tuple(rows)


def method_names(model: str, preset: str, hypothesis_names, mixture: str = "pose") -> dict:
    """{hypothesis: row label} in the paper's style: 'GraphMDN (Mean)', 'GraphMDN (Oracle, Wide)', 'SemGCN'.

    Node-level GraphMDNs are marked 'Node' (the paper reports pose level only, unmarked).
    """
    base = "GraphMDN" if model == "graphmdn" else "SemGCN"
    suffix = (
        []
        if preset == "standard"
        else [preset.capitalize() if preset == "wide" else preset.upper()]
    )
    if model == "graphmdn" and mixture == "node":
        suffix.append("Node")
    names = {}
    for hypothesis in hypothesis_names:
        qualifiers = suffix if hypothesis == PREDICTION else [selection_label(hypothesis)] + suffix
        names[hypothesis] = base + (f" ({', '.join(qualifiers)})" if qualifiers else "")
    return names


def model_label(model: str, preset: str, mixture: str = "pose") -> str:
    return method_names(model, preset, [PREDICTION], mixture)[PREDICTION]


def combine_results(results: Sequence[EvaluationResult]) -> EvaluationResult:
    """One table from several runs' results (same test actions), Protocol #1 rows first."""
    if not results:
        raise ValueError("Expected at least one EvaluationResult to combine.")
    actions = results[0].actions
    for result in results[1:]:
        if set(result.actions) != set(actions):
            raise ValueError(
                f"Expected results over the same actions. Received: {actions} and {result.actions}"
            )
    conventions = sorted({result.convention for result in results})
    if len(conventions) > 1:
        raise ValueError(f"Expected results scored under one convention. Received: {conventions}")
    rows = tuple(
        row
        for metric in METRICS
        for result in results
        for row in result.rows
        if row.protocol == metric
    )
    labels = [(row.protocol, row.method) for row in rows]
    repeated = sorted(
        {method for protocol, method in labels if labels.count((protocol, method)) > 1}
    )
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
        num_ambiguous=results[0].num_ambiguous,
        uncertainty={
            label: value for result in results for label, value in result.uncertainty.items()
        },
        diversity={label: value for result in results for label, value in result.diversity.items()},
    )


def plot_per_action(result: EvaluationResult, path: str | Path) -> Path:
    """Grouped bars of every method's per-action error, one panel per protocol; saved as PNG."""
    columns = list(result.actions) + [AVERAGE]
    methods = result.methods()
    width_inches = min(
        20.0, max(6.0, 0.35 * len(columns) * (1 + len(methods)) / 2) + 2.5
    )  # + the legend
    figure, axes = plt.subplots(len(PROTOCOLS), 1, figsize=(width_inches, 7))
    width = 0.8 / len(methods)
    positions = np.arange(len(columns))
    for axis, protocol in zip(axes, PROTOCOLS):
        for index, method in enumerate(methods):
            row = result.row(protocol, method)
            values = [row.per_action[action] for action in result.actions] + [row.average]
            axis.bar(
                positions + (index - (len(methods) - 1) / 2) * width, values, width, label=method
            )
        axis.set_xticks(
            positions, [ACTION_ABBREVIATIONS.get(c, c) for c in columns], rotation=45, ha="right"
        )
        axis.set_ylabel("error (mm)")
        axis.set_title(PROTOCOL_NAMES[protocol])
        axis.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
