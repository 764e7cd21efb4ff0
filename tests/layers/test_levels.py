"""graphmdn_tf/layers/levels.py: the level's old name `mixture` still reads, silently from a saved
config and with a DeprecationWarning from code."""

import warnings

import numpy as np
import pytest

from graphmdn_tf import GraphMixtureHead, h36m_graph
from graphmdn_tf.layers.levels import level_keyword, saved_level


def _as_saved_before_the_rename(config: dict) -> dict:
    return {("mixture" if key == "mixture_level" else key): value for key, value in config.items()}


def test_a_saved_configs_old_key_is_read_as_the_level():
    assert saved_level({"mixture": "node", "num_kernels": 3}) == {
        "num_kernels": 3,
        "mixture_level": "node",
    }
    current = {"mixture_level": "pose", "num_kernels": 3}
    assert saved_level(current) is current
    both = {"mixture_level": "pose", "mixture": "node"}  # a caller's keyword on top: left to warn
    assert saved_level(both) == both


def test_the_old_keyword_gives_the_level_with_a_deprecation_warning():
    kwargs = {"mixture": "node", "name": "head"}
    with pytest.warns(
        DeprecationWarning, match=r"^Head\(mixture=\.\.\.\) is deprecated; use Head\(mixture_level"
    ):
        assert level_keyword("pose", kwargs, "Head") == "node"
    assert kwargs == {"name": "head"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert level_keyword("node", {"name": "head"}, "Head") == "node"
    with (
        pytest.warns(DeprecationWarning),
        pytest.raises(
            ValueError,
            match=r"Expected one of mixture_level and its deprecated name mixture\. "
            r"Received: mixture_level='node', mixture='pose'",
        ),
    ):
        level_keyword("node", {"mixture": "pose"}, "Head")


def test_the_head_takes_the_old_keyword_and_loads_an_old_config_silently(rng):
    with pytest.warns(DeprecationWarning, match=r"GraphMixtureHead\(mixture=\.\.\.\)"):
        head = GraphMixtureHead(h36m_graph(), 3, mixture="node")
    config = head.get_config()
    assert head.mixture_level == config["mixture_level"] == "node" and "mixture" not in config
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*mixture", category=DeprecationWarning)
        restored = GraphMixtureHead.from_config(_as_saved_before_the_rename(config))
    assert restored.get_config() == config
    outputs = restored(rng.normal(size=(2, 16, 8)).astype("float32"))
    assert outputs["sigma"].shape == (2, 3, 16)
    np.testing.assert_array_less(0.0, outputs["sigma"])
