"""The scoring conventions by name, as plain data: `graphmdn_tf.scoring` scores under them, and the
command line lists them without importing TensorFlow."""

from __future__ import annotations

# How poses are scored. 'paper' is what the authors' evaluation scripts do, which produced the paper's
# tables: GraphMDN (`main_eval.py`) sets the root joint of every kernel mean to the origin before
# choosing hypotheses and takes the Protocol #2 Oracle as the kernel with the lowest error *after*
# alignment; SemGCN (`main_gcn.py`) re-centres each prediction on its own root. 'raw' scores the model's
# outputs as they are, with the Protocol #2 Oracle being the Protocol #1 Oracle's pose. Targets are
# root-relative either way. The test NLL always uses the model's own (raw) distribution.
CONVENTIONS = {
    "paper": "the authors' evaluation (GraphMDN kernels' root joint set to the origin, SemGCN poses re-centred "
    "on their root, Protocol #2 Oracle chosen after alignment)",
    "raw": "the model's outputs as they are (Protocol #2 Oracle = the Protocol #1 Oracle's pose)",
}


def check_convention(convention: str) -> str:
    if convention not in CONVENTIONS:
        raise ValueError(
            f"Expected convention to be one of {tuple(CONVENTIONS)}. Received: convention={convention!r}"
        )
    return convention
