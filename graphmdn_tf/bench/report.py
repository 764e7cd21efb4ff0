"""`bench.md`: the Markdown form of a `graphmdn-tf bench` throughput report (the dict written to bench.json)."""

from __future__ import annotations

from graphmdn_tf.bench.machine import processor_label
from graphmdn_tf.bench.profile import CATEGORIES

# The inference paths of a report, in column order: `inference_<key>_...` fields.
INFERENCE_PATHS = ("keras_predict", "saved_model", "saved_model_xla")


def format_markdown(report: dict) -> str:
    """The report as Markdown: the peak; the headline, `train`'s default epoch (when measured); one row
    per preset of the synthetic step loop, the run's settings, the cores kept busy and, for presets
    measured with `--profile`, where a training step's XLA op time goes; the epochs' table."""
    lines = (
        _header(report)
        + (_headline(report["epochs"]) if "epochs" in report else [])
        + _preset_table(report["presets"])
        + _settings(report)
        + _cores_table(report["presets"])
    )
    lines.append("")
    profiled = [r for r in report["presets"] if "profile" in r]
    if profiled:
        lines += _profile_table(profiled)
    if "epochs" in report:
        lines += _epoch_table(report["epochs"])
    return "\n".join(lines)


def _header(report: dict) -> list[str]:
    tf32 = report["device"] != "CPU" and report["tensor_float_32"]
    return [
        f"# graphmdn-tf bench ({report['device']}, TensorFlow {report['tensorflow']})",
        "",
        f"Processor: {processor_label(report)}"
        + (f"; GPU: {report['gpu_model']}" if report.get("gpu_model") else ""),
        "",
        f"float32 matmul peak ({report['settings']['matmul_size']}^2): **{report['matmul_peak_gflops']:.1f} GFLOP/s**"
        + (" (TF32 matmuls enabled, TensorFlow's GPU default)" if tf32 else "")
        + (
            f"; {report['matmul_peak_gflops_after']:.1f} GFLOP/s measured again after the presets (the presets'"
            " percentages are against the first, the epochs' against this one)"
            if "matmul_peak_gflops_after" in report
            else ""
        ),
        "",
    ]


def _headline(run: dict) -> list[str]:
    """What a user's `train` gets: the last epoch of the default run (the first also traces and
    compiles), its training part alone; validation apart."""
    row = run["epochs"][-1]
    where = run["dataset"] + (f" ({run['data_dir']})" if run["data_dir"] else "")
    return [
        f"**Training as users run it** (`train` with the default settings, {run['model']} "
        f"{run['preset']} on {where}, epoch {row['epoch'] + 1} of {len(run['epochs'])}): "
        f"**{row['train_samples_per_s']:.0f} samples/s, {row['train_percent_of_peak']:.0f}% of the "
        f"matmul peak** ({run['peak_gflops']:.1f} GFLOP/s, measured in this run); validation apart: "
        f"{row['validation_seconds']:.2f} s, {row['validation_percent_of_epoch']:.1f}% of the epoch. "
        "The table below is the synthetic step loop of each preset.",
        "",
    ]


def _preset_table(presets: list[dict]) -> list[str]:
    lines = [
        "| preset | params | MFLOP/sample fwd (train) | profiler check | train samples/s | train % peak "
        "| predict samples/s | % peak | SavedModel samples/s | % peak | SavedModel XLA samples/s | % peak "
        "| SavedModel batch-1 ms | XLA batch-1 ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in presets:
        check = (
            "ok"
            if r["profiler_matmul_flops_batch1"] == r["analytic_matmul_flops_batch1"]
            else "MISMATCH"
        )
        inference = "".join(
            f" | {r[f'inference_{path}_samples_per_s']:.0f} | {r[f'inference_{path}_percent_of_peak']:.0f}%"
            for path in INFERENCE_PATHS
        )
        lines.append(
            f"| {r['preset']} | {r['parameters']:,} | {r['forward_flops_per_sample'] / 1e6:.1f} "
            f"({r['train_flops_per_sample'] / 1e6:.1f}) | {check} | {r['train_samples_per_s']:.0f} "
            f"| {r['train_percent_of_peak']:.0f}%{inference} | {r['inference_saved_model_batch1_ms']:.2f} "
            f"| {r['inference_saved_model_xla_batch1_ms']:.2f} |"
        )
    return lines


def _settings(report: dict) -> list[str]:
    settings = report["settings"]
    block = report["presets"][0]["predict_block_size"] if report["presets"] else "-"
    return [
        "",
        f"Training: batch {settings['batch_size']}, pose level, {settings['num_kernels']} kernels, Adam + global clipnorm 1, "
        f"XLA={settings['jit_compile']}, steps_per_execution={settings['steps_per_execution']}; "
        f"inference batch {settings['inference_batch_size']} (Keras `predict` in blocks of "
        f"{block} rows). Medians of {settings['repeats']} repeats.",
        "",
        f"CPU cores kept busy (process CPU time / wall time; {report['cpu_cores_available']} available). "
        "Fewer than available means cores sat idle: ops that ran one at a time, or waits:",
        "",
    ]


def _cores_table(presets: list[dict]) -> list[str]:
    return [
        "| preset | training | predict | SavedModel | SavedModel XLA |",
        "|---|---|---|---|---|",
        *(
            f"| {r['preset']} | {r['train_cpu_cores_busy']:.2f}"
            + "".join(f" | {r[f'inference_{path}_cpu_cores_busy']:.2f}" for path in INFERENCE_PATHS)
            + " |"
            for r in presets
        ),
    ]


def _profile_table(profiled: list[dict]) -> list[str]:
    lines = [
        "Where a training step's XLA op time goes (TF profiler trace):",
        "",
        "| preset | " + " | ".join(CATEGORIES) + " | largest ops (ms over the traced steps) |",
        "|---|" + "---|" * (len(CATEGORIES) + 1),
    ]
    for r in profiled:
        shares = r["profile"]["category_share"]
        top = ", ".join(f"{name} {ms:.1f}" for name, ms in r["profile"]["top_ops_ms"][:4])
        lines.append(
            f"| {r['preset']} | "
            + " | ".join(f"{100 * shares.get(k, 0):.0f}%" for k in CATEGORIES)
            + f" | {top} |"
        )
    lines += [
        "",
        "Traces: `tensorboard --logdir <out>/profile` (profile tab; needs tensorboard-plugin-profile).",
        "",
    ]
    return lines


def _epoch_table(run: dict) -> list[str]:
    where = run["dataset"] + (f" ({run['data_dir']})" if run["data_dir"] else "")
    lines = [
        f"Epochs of `train` with the default settings ({run['model']} {run['preset']}, {run['mixture_level']} level) on {where}: "
        f"{run['train_samples']} training samples, {run['steps_per_epoch']} steps of {run['batch_size']} per epoch, "
        f"XLA={run['jit_compile']}, steps_per_execution={run['steps_per_execution']}; validation on "
        f"{run['validation_frames']} frames with {run['image_frames']} drawn. Validation is everything after the "
        "epoch's last training batch (the validation pass, its summaries and image, Keras' TensorBoard and "
        f"history row); the first epoch also traces the functions. Train % peak is against {run['peak_gflops']:.1f} "
        "GFLOP/s, the peak measured just before the epochs.",
        "",
        "| epoch | train s | train samples/s | train % peak | cores | validation s | validation % of epoch | cores |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in run["epochs"]:
        lines.append(
            f"| {row['epoch'] + 1} | {row['train_seconds']:.1f} | {row['train_samples_per_s']:.0f} "
            f"| {row['train_percent_of_peak']:.0f}% | {row['train_cpu_cores_busy']:.2f} | {row['validation_seconds']:.2f} "
            f"| {row['validation_percent_of_epoch']:.1f}% | {row['validation_cpu_cores_busy']:.2f} |"
        )
    return lines + [""]
