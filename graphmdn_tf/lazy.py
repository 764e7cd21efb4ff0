"""Package exports loaded on first use: importing a light module of a package (the presets, the
config, the command line's parsers) does not import TensorFlow through the package's `__init__`.

    __getattr__, __dir__ = lazy_exports(__name__, {"GraphMDN": "graphmdn_tf.models.graphmdn"})

Each name is imported from its module when it is first read (`graphmdn_tf.GraphMDN`,
`from graphmdn_tf.models import GraphMDN`), then kept in the package like an eager import.
"""

from __future__ import annotations

import importlib
import sys


def lazy_exports(package: str, exports: dict[str, str]):
    """`(__getattr__, __dir__)` for the `__init__` of `package`: `exports` maps each public name to the
    module that defines it (a name equal to its module's last part is the module itself)."""

    def __getattr__(name: str):
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(exports[name])
        value = module if exports[name] == f"{package}.{name}" else getattr(module, name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
