"""The README's picture: a 2D input beside its 3D hypotheses, drawn by `graphmdn_tf.viz`.

The model is the quickstart's GraphMDN (`graphmdn-tf quickstart` writes runs/quickstart-graphmdn); the
frames are test frames of the built-in synthetic set (subject S9, camera 0) whose kernels lie furthest
apart (the pi-weighted mean distance of the kernel means from the mixture mean), one per sequence.

Usage:
    python tools/readme_figure.py [--run-dir runs/quickstart-graphmdn] [--output docs/images/hypotheses.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from graphmdn_tf import viz
from graphmdn_tf.data.pipeline import load_samples
from graphmdn_tf.runs import RunDirectory


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run-dir", type=Path, default=Path("runs/quickstart-graphmdn"))
    parser.add_argument("--output", type=Path, default=Path("docs/images/hypotheses.png"))
    parser.add_argument("--frames", type=int, default=2, help="how many frames to draw")
    args = parser.parse_args(argv)
    model = RunDirectory(args.run_dir).load_model()
    samples = load_samples("synthetic", subjects=("S9",), progress=False)
    samples = samples.subset(samples.cameras == 0)
    outputs = model.predict(samples.inputs_2d, verbose=0)
    mu = np.asarray(outputs["mu"], np.float64)  # [frames, M, 16, 3]
    logits = np.asarray(outputs["pi_logits"], np.float64)
    if logits.ndim == 3:  # node level: one weight per kernel, the mean over nodes
        logits = logits.mean(-1)
    pi = np.exp(logits - logits.max(-1, keepdims=True))
    pi /= pi.sum(-1, keepdims=True)
    mean = np.einsum("fm,fmjc->fjc", pi, mu)
    spread = np.einsum("fm,fm->f", pi, np.linalg.norm(mu - mean[:, None], axis=-1).mean(-1))
    frames, actions = [], set()
    for frame in np.argsort(spread)[::-1]:  # the widest first, one frame per sequence
        if samples.actions[frame] not in actions and len(frames) < args.frames:
            frames.append(frame)
            actions.add(samples.actions[frame])
    frames = np.sort(frames)
    figure = viz.hypotheses_figure(
        samples.inputs_2d[frames],
        mu[frames],
        pi[frames],
        samples.targets_3d[frames],
        row_titles=[str(samples.actions[frame]) for frame in frames],
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(viz.figure_to_png(figure, dpi=90))
    print(f"{args.output}: frames {frames.tolist()} of S9, camera 0")


if __name__ == "__main__":
    main()
