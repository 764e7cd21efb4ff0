"""`bench --profile`: XLA op events of a TF profiler trace, summed by op and by kind of work."""

import os

import pytest
import tensorflow as tf

from graphmdn_tf.bench.profile import (
    CATEGORIES,
    XLA_OP_TRACE_FLAG,
    enable_xla_op_tracing,
    op_category,
    summarize_trace,
)


@pytest.mark.parametrize(
    ("name", "category"),
    [
        ("MatMul.140", "matrix products"),
        ("dot.3", "matrix products"),
        ("Einsum.37", "matrix products"),
        ("copy_bitcast_fusion.14", "layout copies"),
        ("wrapped_reduce-window.63", "reductions"),
        ("multiply_add_fusion", "elementwise fusions"),
        ("select_select_fusion.6", "elementwise fusions"),
    ],
)
def test_op_categories(name, category):
    assert op_category(name) == category


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (None, XLA_OP_TRACE_FLAG),
        ("--a=1", f"--a=1 {XLA_OP_TRACE_FLAG}"),
        (f"{XLA_OP_TRACE_FLAG} --b", f"{XLA_OP_TRACE_FLAG} --b"),
    ],
)
def test_enable_xla_op_tracing_adds_the_flag_once(monkeypatch, before, after):
    if before is None:
        monkeypatch.delenv("XLA_FLAGS", raising=False)
    else:
        monkeypatch.setenv("XLA_FLAGS", before)
    enable_xla_op_tracing()
    enable_xla_op_tracing()
    assert os.environ["XLA_FLAGS"] == after


def _write_trace(directory, events):
    """A trace file as TF's profiler lays it out, holding `events`: (thread line name, op name, milliseconds)."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    plane = space.planes.add(name="/host:CPU")
    ids = {}
    for line_name, op, ms in events:
        metadata_id = ids.setdefault(op, len(ids) + 1)
        plane.event_metadata[metadata_id].id = metadata_id
        plane.event_metadata[metadata_id].name = op
        line = next(
            (line for line in plane.lines if line.name == line_name), None
        ) or plane.lines.add(name=line_name)
        line.events.add(metadata_id=metadata_id, duration_ps=int(ms * 1e9))
    path = directory / "plugins" / "profile" / "2026_01_01" / "host.xplane.pb"
    path.parent.mkdir(parents=True)
    path.write_bytes(space.SerializeToString())
    return path


def test_trace_summary_sums_xla_ops_on_the_worker_threads(tmp_path):
    path = _write_trace(
        tmp_path,
        [
            ("tf_XLAEigen/1", "dot.1", 3.0),
            ("tf_XLAEigen/2", "dot.1", 1.0),
            ("tf_XLAEigen/1", "copy.2", 2.0),
            ("tf_XLAEigen/1", "reduce.3", 1.5),
            ("tf_XLAEigen/2", "add_fusion", 2.5),
            ("tf_XLAEigen/1", "ThunkExecutor::Execute", 50.0),  # runtime bookkeeping, not an op
            ("python", "dot.9", 40.0),  # not an XLA worker thread
        ],
    )
    summary = summarize_trace(tmp_path)
    assert summary["trace"] == str(path)
    assert summary["op_ms"] == pytest.approx(10.0)
    assert summary["category_share"] == pytest.approx(
        {
            "matrix products": 0.4,
            "elementwise fusions": 0.25,
            "layout copies": 0.2,
            "reductions": 0.15,
        }
    )
    assert set(summary["category_share"]) <= set(CATEGORIES)
    assert [name for name, _ in summary["top_ops_ms"]] == [
        "dot.1",
        "add_fusion",
        "copy.2",
        "reduce.3",
    ]
    assert dict(summary["top_ops_ms"]) == pytest.approx(
        {"dot.1": 4.0, "add_fusion": 2.5, "copy.2": 2.0, "reduce.3": 1.5}
    )


def test_trace_summary_explains_a_missing_or_empty_trace(tmp_path):
    with pytest.raises(FileNotFoundError, match="plugins/profile"):
        summarize_trace(tmp_path / "nothing")
    _write_trace(tmp_path / "runtime_only", [("tf_XLAEigen/1", "ThunkExecutor::Execute", 5.0)])
    with pytest.raises(ValueError, match="Expected XLA op events.*xla_cpu_enable_xprof_traceme"):
        summarize_trace(tmp_path / "runtime_only")
    square = tf.function(lambda x: tf.matmul(x, x))  # no XLA: no XLA op events
    tf.profiler.experimental.start(str(tmp_path / "trace"))
    square(tf.ones((8, 8))).numpy()
    tf.profiler.experimental.stop()
    with pytest.raises(ValueError, match="Expected XLA op events.*xla_cpu_enable_xprof_traceme"):
        summarize_trace(tmp_path / "trace")
