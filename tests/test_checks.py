"""graphmdn_tf/checks.py: the shared argument checks and their one message."""

import numpy as np
import pytest

from graphmdn_tf.checks import check_positive_int


@pytest.mark.parametrize("value", [1, 7, np.int64(3), np.uint8(2)])
def test_a_positive_integer_passes_as_an_int(value):
    checked = check_positive_int(value, "batch_size")
    assert checked == int(value) and type(checked) is int


@pytest.mark.parametrize("value", [0, -2, 2.0, 1.5, True, "3", None, np.float32(4)])
def test_anything_else_is_refused_naming_the_argument_and_the_value(value):
    with pytest.raises(ValueError) as caught:
        check_positive_int(value, "batch_size")
    assert str(caught.value) == (
        f"Expected batch_size to be a positive integer. Received: batch_size={value!r}"
    )
