"""The quickstart's configs (the whole pipeline runs end to end in tests/integration/test_training_cli.py)."""

from graphmdn_tf.quickstart import quickstart_config


def test_quickstart_config():
    graphmdn, semgcn = quickstart_config("graphmdn"), quickstart_config("semgcn", epochs=1)
    assert graphmdn.differences(semgcn) == {
        "model": ("graphmdn", "semgcn"),
        "epochs": (graphmdn.epochs, 1),
    }
    assert (
        graphmdn.dataset == "synthetic"
        and graphmdn.hidden_dim == 128
        and graphmdn.mixture_level == "pose"
    )
