"""The levels a mixture density head places its mixture at, as plain data (read by the config and the
command line without Keras): 'pose' (one mixture over whole poses, paper Eq. 6-9) or 'node' (one per
joint, Eq. 1-5).

The level is stored and passed as `mixture_level`. Configs, `.keras` files and Python code written
before that name say `mixture`: `saved_level` reads a saved config's old key silently and
`level_keyword` accepts the old keyword with a `DeprecationWarning`.
"""

from __future__ import annotations

import warnings

MIXTURE_LEVELS = ("pose", "node")
#: The name the level is stored and passed under, and the name it had before.
LEVEL_KEY = "mixture_level"
OLD_LEVEL_KEY = "mixture"


def saved_level(config: dict) -> dict:
    """A saved config (`get_config`, config.json) with the old key `mixture` read as `mixture_level`.

    Only a config without `mixture_level` is renamed; with both keys, the old one is a caller's
    keyword (an override on top of a saved config) and stays for `level_keyword` to warn about.
    """
    if OLD_LEVEL_KEY not in config or LEVEL_KEY in config:
        return config
    renamed = {key: value for key, value in config.items() if key != OLD_LEVEL_KEY}
    renamed[LEVEL_KEY] = config[OLD_LEVEL_KEY]
    return renamed


def level_keyword(mixture_level: str, kwargs: dict, owner: str, default: str = "pose") -> str:
    """The level a constructor was given: `mixture_level`, or the deprecated keyword `mixture`
    popped from `kwargs` (with a `DeprecationWarning` naming `owner`).

    Raises:
        ValueError: both keywords given, with different levels.
    """
    if OLD_LEVEL_KEY not in kwargs:
        return mixture_level
    old = kwargs.pop(OLD_LEVEL_KEY)
    warnings.warn(
        f"{owner}(mixture=...) is deprecated; use {owner}(mixture_level=...)",
        DeprecationWarning,
        stacklevel=3,
    )
    if mixture_level not in (default, old):
        raise ValueError(
            f"Expected one of mixture_level and its deprecated name mixture. Received: "
            f"mixture_level={mixture_level!r}, mixture={old!r}"
        )
    return old
