"""Which machine a `graphmdn-tf bench` report was measured on: the processor's model and vector units.

A report's percentages are against the same run's matmul peak, and what that peak means depends on the
processor: its float32 peak comes from the widest FMA units (AVX-512 on recent Xeon and EPYC parts), while
the model's many small products and memory-bound passes gain less from them. Two runs on different
processors are not comparable percentage for percentage, so the report names the processor.

Example:
    >>> describe_processor()
    {'cpu_model': 'Intel(R) Xeon(R) Processor', 'cpu_vector_extensions': ['avx2', 'fma', 'avx512f', 'avx512_bf16',
     'avx512_fp16', 'amx_tile', 'amx_bf16']}
"""

from __future__ import annotations

import platform
from pathlib import Path

# The flags of /proc/cpuinfo that bear on float32 matrix throughput, in the order they are reported.
VECTOR_EXTENSIONS = (
    "avx2",
    "fma",
    "avx512f",
    "avx512_bf16",
    "avx512_fp16",
    "amx_tile",
    "amx_bf16",
    "neon",
    "sve",
)
CPUINFO = Path("/proc/cpuinfo")


def parse_cpuinfo(text: str) -> dict:
    """{'cpu_model': str or None, 'cpu_vector_extensions': [flag]} of the first processor in a
    /proc/cpuinfo text (x86 'model name' and 'flags', Arm 'Features'; the first processor's alone)."""
    model, flags = None, set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "hardware", "cpu model") and model is None and value.strip():
            model = " ".join(value.split())
        elif key in ("flags", "features") and not flags:
            flags = set(value.split())
        elif not line.strip() and (model or flags):
            break  # the end of the first processor's block
    return {
        "cpu_model": model,
        "cpu_vector_extensions": [name for name in VECTOR_EXTENSIONS if name in flags],
    }


def describe_processor(cpuinfo: Path = CPUINFO) -> dict:
    """This machine's `parse_cpuinfo` fields; where there is no readable /proc/cpuinfo, the model is
    `platform.processor()` (or None) and no extensions are listed."""
    try:
        described = parse_cpuinfo(cpuinfo.read_text(errors="replace"))
    except OSError:
        described = {"cpu_model": None, "cpu_vector_extensions": []}
    if not described["cpu_model"]:
        described["cpu_model"] = platform.processor() or None
    return described


def describe_gpu() -> str | None:
    """The first visible GPU's name as TensorFlow reports it (e.g. 'NVIDIA H100 80GB HBM3'), None without one."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return None
    return tf.config.experimental.get_device_details(gpus[0]).get("device_name") or gpus[0].name


def processor_label(report: dict) -> str:
    """'Intel(R) Xeon(R) Processor; avx2, fma, avx512f, amx_tile' from a report's fields ('unknown processor'
    where it names none; reports written before these fields existed have neither)."""
    model = report.get("cpu_model") or "unknown processor"
    extensions = report.get("cpu_vector_extensions") or []
    return f"{model}; {', '.join(extensions)}" if extensions else model
