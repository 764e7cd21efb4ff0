"""Paper-style evaluation of finished runs: per-action tables of every hypothesis selection under every
metric, the mixture's uncertainty (NLL per joint, calibration, sharpness, diversity) and the ambiguous subset.

For every test sample the model's hypotheses (Section 4.3) are turned into poses by every selection of
`graphmdn_tf.hypotheses.SELECTIONS` the data allow: Highest, Mean, the selectors that need no ground
truth (`graphmdn_tf.selectors`: reprojection, skeleton prior, temporal), and the upper bounds that peek
at it (Oracle pose- and joint-wise, best of N samples pose- and joint-wise); a SemGCN has its one
prediction. Modules:
    frames         per-sample scores (`evaluate_model`), sequence chunks, the ambiguous subset
    tables         `EvaluationResult`: rows, markdown, CSV, JSON, the per-action plot, `combine_results`
    probabilistic  the uncertainty summary, reliability and diversity plots, TensorBoard
    run            `evaluate_run` on a run directory (its own test split or other data)

Example:
    >>> result = evaluate_run("runs/graphmdn-standard-cmu")   # writes results.md/.csv/.json and plots
    >>> print(result.to_markdown())
    >>> combine_results([result, evaluate_run("runs/semgcn-standard-cmu")]).write("runs", "comparison")
"""

from graphmdn_tf.evaluation.frames import (
    FrameEvaluation,
    ambiguous_subset,
    evaluate_model,
    sequence_chunks,
    sequence_index,
)
from graphmdn_tf.evaluation.probabilistic import uncertainty_summary, write_tensorboard
from graphmdn_tf.evaluation.run import (
    DATA_FIELDS,
    data_tag,
    default_results_dir,
    evaluate_run,
    evaluation_data,
    training_priors,
)
from graphmdn_tf.evaluation.tables import (
    ACTION_ABBREVIATIONS,
    AVERAGE,
    PROTOCOL_NAMES,
    PROTOCOLS,
    EvaluationResult,
    ResultRow,
    action_order,
    combine_results,
    method_names,
    model_label,
    plot_per_action,
    result_rows,
)

__all__ = [
    "ACTION_ABBREVIATIONS",
    "AVERAGE",
    "DATA_FIELDS",
    "PROTOCOLS",
    "PROTOCOL_NAMES",
    "EvaluationResult",
    "FrameEvaluation",
    "ResultRow",
    "action_order",
    "ambiguous_subset",
    "combine_results",
    "data_tag",
    "default_results_dir",
    "evaluate_model",
    "evaluate_run",
    "evaluation_data",
    "method_names",
    "model_label",
    "plot_per_action",
    "result_rows",
    "sequence_chunks",
    "sequence_index",
    "training_priors",
    "uncertainty_summary",
    "write_tensorboard",
]
