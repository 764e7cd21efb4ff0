"""Checks of plain arguments shared across the package, each with its one message.

Example:
    >>> check_positive_int(3, "batch_size")
    3
    >>> check_positive_int(0, "batch_size")
    ValueError: Expected batch_size to be a positive integer. Received: batch_size=0
"""

from __future__ import annotations

import numbers


def check_positive_int(value, name: str) -> int:
    """`value` as an int, if it is an integer >= 1 (a Python or NumPy integer; a bool is not one).

    Raises:
        ValueError: naming `name` and the value received.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"Expected {name} to be a positive integer. Received: {name}={value!r}")
    return int(value)
