"""The package's floors (README, Layout): a module imports only from its own floor or below.

Read from the source with `ast`, so an import added anywhere (top level or inside a function) counts.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "graphmdn_tf"
FLOORS = (
    ("_version", "graphs", "skeletons", "atomic", "written", "lazy"),
    ("metrics", "distributions", "layers", "viz"),
    ("losses", "hypotheses", "scoring", "conventions", "selectors", "uncertainty", "calibration"),
    ("batching", "data", "models"),
    ("config", "runs", "convert"),
    ("training",),
    ("evaluation", "export", "folded", "serving", "lifting"),
    ("quickstart", "bench", "cli"),
)
FLOOR = {name: level for level, names in enumerate(FLOORS) for name in names}
MODULES = sorted(
    path for path in PACKAGE.rglob("*.py") if path.name != "__init__.py" or path.parent != PACKAGE
)


def _top(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _imported(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("graphmdn_tf")
        ):
            names = (
                [node.module]
                if node.module != "graphmdn_tf"
                else [f"graphmdn_tf.{a.name}" for a in node.names]
            )
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names if alias.name.startswith("graphmdn_tf.")]
        else:
            continue
        for name in names:
            yield name.split(".")[1], node.lineno


def test_every_module_has_a_floor():
    assert {_top(path) for path in MODULES} == set(FLOOR)


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(PACKAGE)))
def test_no_module_imports_from_a_floor_above_it(path):
    own = FLOOR[_top(path)]
    upward = [
        f"line {line}: graphmdn_tf.{name} (floor {FLOOR[name]})"
        for name, line in _imported(path)
        if FLOOR[name] > own
    ]
    assert not upward, f"{path.relative_to(PACKAGE)} (floor {own}) imports from above: {upward}"
