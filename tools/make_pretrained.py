"""Make the GraphMDN shipped in the package (graphmdn_tf/pretrained/cmu_standard.keras).

Trains the standard preset with the package's own `graphmdn-tf train` on the CMU development split
(real motion capture: train S1, S5, S6), scores it on the held-out subject S7 with `graphmdn-tf
evaluate`, and copies the trained model, without its optimizer state, into the package. The figures
docs/pretrained.md quotes are the evaluate table this command prints.

Usage:
    python tools/make_pretrained.py --data-dir ../shared/data/cmu --run-dir runs/pretrained-cmu-standard
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
from pathlib import Path

PACKAGE_FILE = (
    Path(__file__).resolve().parents[1] / "graphmdn_tf" / "pretrained" / "cmu_standard.keras"
)
TRAIN_FLAGS = ("--preset", "standard", "--dataset", "cmu", "--train-subjects", "S1,S5,S6")
TRAIN_FLAGS += ("--test-subjects", "S7", "--epochs", "4", "--seed", "0")


def graphmdn_tf(*arguments: str) -> None:
    """Run one `graphmdn-tf` command of this checkout; stop on its failure."""
    command = [sys.executable, "-m", "graphmdn_tf.cli", *arguments]
    print("$ graphmdn-tf " + " ".join(arguments), flush=True)
    subprocess.run(command, check=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="folder with data_3d_cmu.npz")
    parser.add_argument("--run-dir", required=True, help="the training run (reused when finished)")
    parser.add_argument(
        "--output", type=Path, default=PACKAGE_FILE, help=f"where the model goes ({PACKAGE_FILE})"
    )
    args = parser.parse_args(argv)
    run_model = Path(args.run_dir) / "model.keras"
    if not run_model.is_file():
        graphmdn_tf("train", *TRAIN_FLAGS, "--data-dir", args.data_dir, "--run-dir", args.run_dir,
                    "--verbose", "2")  # fmt: skip
    graphmdn_tf("evaluate", args.run_dir, "--num-samples", "0")

    from graphmdn_tf.models import load_model

    model = load_model(run_model)  # uncompiled: saved without the optimizer's slots
    args.output.parent.mkdir(parents=True, exist_ok=True)
    model.save(args.output)
    digest = hashlib.sha256(args.output.read_bytes()).hexdigest()
    print(f"Wrote {args.output}: {args.output.stat().st_size} bytes, sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
