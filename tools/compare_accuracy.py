"""Side-by-side accuracy: `graphmdn-tf bench accuracy` against the authors' code (`reference_harness.py`).

Both sides are scored by graphmdn_tf's evaluation code under the same convention, on the same rows.

Usage:
    python tools/compare_accuracy.py bench-accuracy/accuracy.json reference-runs/*.json [--plot compare.png]
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path


def reference_summary(paths) -> dict:
    """{method: {"p1": [values over seeds], "p2": [...]}} from the harness's per-run JSON files."""
    summary: dict = {}
    for path in paths:
        run = json.loads(Path(path).read_text())
        for method, by_protocol in run["averages"].items():
            for protocol in ("1", "2"):
                summary.setdefault(method, {}).setdefault(f"p{protocol}", []).append(
                    by_protocol[protocol]
                )
    return summary


def _cell(values) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.1f} ± {spread:.1f} (n={len(values)})"


def compare(ours_path, reference_paths) -> str:
    ours = json.loads(Path(ours_path).read_text())
    theirs = reference_summary(reference_paths)
    settings = ours["settings"]
    lines = [
        f"{settings['dataset']}, train {','.join(ours['train_subjects'])}, test {','.join(ours['test_subjects'])}, "
        f"{settings['epochs']} epoch(s), scoring convention '{ours['convention']}'; mean ± std over seeds (mm).",
        "",
        "| Method | graphmdn-tf P1 | reference P1 | graphmdn-tf P2 | reference P2 |",
        "|---|---:|---:|---:|---:|",
    ]
    for method, values in ours["summary"].items():
        reference = theirs.get(method)
        lines.append(
            f"| {method} | {_cell(values['p1']['values'])} | {_cell(reference['p1']) if reference else '-'} | "
            f"{_cell(values['p2']['values'])} | {_cell(reference['p2']) if reference else '-'} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ours", help="accuracy.json written by graphmdn-tf bench accuracy")
    parser.add_argument("reference", nargs="+", help="the .json files reference_harness.py wrote")
    args = parser.parse_args(argv)
    print(compare(args.ours, args.reference))


if __name__ == "__main__":
    main()
