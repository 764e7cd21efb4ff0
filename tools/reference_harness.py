"""Train the authors' PyTorch GraphMDN / SemGCN on graphmdn_tf's samples, for side-by-side accuracy checks.

This is a harness, not part of the package: it imports the authors' modules (`models.sem_gcn_mdn`,
`models.sem_gcn`, `common.mdn_loss`) from a clone of
https://github.com/vectra-ai-research/GraphMDN (CC BY-NC 4.0) that you point it at, and feeds them the
exact rows `graphmdn_tf.data.pipeline.load_samples` returns. Nothing of the authors' code is copied
here. Its training loop follows their `main_mdn.py` / `main_gcn.py` with `--onecycle_lr`: Adam (torch
defaults, eps 1e-8), `CyclicLR(base_lr=0, max_lr=peak, step_size_up=half the run)`, global-norm
clipping at 1, a shuffled `DataLoader` that keeps the last partial batch, BatchNorm and `nn.Dropout`.

The trained model's outputs on the test rows are written as graphmdn_tf mixture parameters (`mu`
[B, K, N, 3], `sigma` [B, K], `pi_logits` [B, K]) or SemGCN poses, so that `tools/accuracy.py` scores
both implementations with the same code.

Usage:
    python tools/reference_harness.py --reference-repo /path/to/GraphMDN --model graphmdn \
        --data-dir ../shared/data/cmu --dataset cmu --epochs 4 --seed 0 --out /tmp/ref-g0.npz
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


def reference_modules(repo: Path):
    """The authors' model classes and loss, imported from their repository folder."""
    if not (repo / "models" / "sem_gcn_mdn.py").is_file():
        raise SystemExit(
            f"{repo} is not a clone of vectra-ai-research/GraphMDN (no models/sem_gcn_mdn.py)"
        )
    sys.path.insert(0, str(repo))
    from common.mdn_loss import mdn_loss_fn_pose_distributions
    from models.sem_gcn import SemGCN
    from models.sem_gcn_mdn import SemGCN_MDN_Graph

    return SemGCN_MDN_Graph, SemGCN, mdn_loss_fn_pose_distributions


def dense_adjacency(graph):
    """Row-normalised (A + I), as the authors' `adj_mx_from_edges(sparse=False)` builds it."""
    import torch

    adjacency = graph.adjacency_with_self_loops().astype(np.float32)
    return torch.tensor(adjacency / adjacency.sum(axis=1, keepdims=True))


def build(args, graph):
    graphmdn_class, semgcn_class, loss = reference_modules(Path(args.reference_repo))
    adjacency = dense_adjacency(graph)
    groups = [list(group) for group in graph.node_groups]
    dropout = None if args.dropout == 0 else args.dropout
    if args.model == "graphmdn":
        model = graphmdn_class(
            adjacency,
            args.hidden_dim,
            num_gaussians=args.num_kernels,
            num_layers=args.num_blocks,
            nodes_group=groups,
            p_dropout=dropout,
            pose_level_pi=True,
            uniform_sigma=True,
        )
        return model, loss
    import torch

    model = semgcn_class(
        adjacency,
        args.hidden_dim,
        num_layers=args.num_blocks,
        nodes_group=groups,
        p_dropout=dropout,
    )
    return model, torch.nn.MSELoss(reduction="mean")


def train(args):
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from graphmdn_tf.config import TrainingConfig
    from graphmdn_tf.data.pipeline import load_samples
    from graphmdn_tf.skeletons import h36m_graph

    config = TrainingConfig(
        dataset=args.dataset,
        data_dir=args.data_dir,
        train_subjects=args.train_subjects,
        test_subjects=args.test_subjects,
    )
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    load = {"subjects": config.train_subjects, "stride": args.stride, "progress": False}
    train_samples = load_samples(args.dataset, args.data_dir, **load)
    test_samples = load_samples(
        args.dataset, args.data_dir, **{**load, "subjects": config.test_subjects}
    )
    model, criterion = build(args, h36m_graph())
    rows = TensorDataset(
        torch.from_numpy(train_samples.targets_3d), torch.from_numpy(train_samples.inputs_2d)
    )
    loader = DataLoader(
        rows,
        batch_size=args.batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(args.seed),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=args.peak_learning_rate)
    scheduler = torch.optim.lr_scheduler.CyclicLR(
        optimizer,
        base_lr=0,
        max_lr=args.peak_learning_rate,
        step_size_up=int(args.epochs * len(loader) * 0.5),
        cycle_momentum=False,
    )
    started = time.time()
    for epoch in range(args.epochs):
        model.train()
        total, count = 0.0, 0
        for targets, inputs in loader:
            loss = criterion(model(inputs), targets)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1)
            optimizer.step()
            scheduler.step()
            total, count = total + loss.item() * len(targets), count + len(targets)
        print(
            f"epoch {epoch + 1}/{args.epochs}: loss {total / count:.4f} ({time.time() - started:.0f} s)",
            flush=True,
        )
    model.eval()
    with torch.no_grad():
        outputs = model(torch.from_numpy(test_samples.inputs_2d))
    if args.model == "graphmdn":
        mu, sigma, pi = (tensor.numpy() for tensor in outputs)
        saved = {
            "mu": mu.transpose(0, 2, 1, 3),
            "sigma": sigma[:, 0, :, 0],
            "pi_logits": pi[:, 0, :],
        }
    else:
        saved = {"prediction": outputs.numpy()}
    seconds = time.time() - started
    np.savez(args.out, **saved, seconds=seconds, train_rows=len(train_samples))
    summary = score(saved if args.model == "graphmdn" else saved["prediction"], test_samples, args)
    summary.update(
        seconds=round(seconds, 1), train_rows=len(train_samples), steps=args.epochs * len(loader)
    )
    Path(args.out).with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary["averages"]))
    print(f"wrote {args.out} and {Path(args.out).with_suffix('.json')}")


def score(outputs, test_samples, args) -> dict:
    """The paper's per-action averages of every method, scored by graphmdn_tf's own evaluation code."""
    from graphmdn_tf.evaluation import method_names
    from graphmdn_tf.metrics import per_action_errors
    from graphmdn_tf.scoring import frame_nll, score_outputs

    errors = score_outputs(outputs, test_samples.targets_3d, convention=args.convention)
    names = method_names(args.model, "standard", errors)
    averages = {
        names[name]: {
            protocol: per_action_errors(values, test_samples.action_classes)[1]
            for protocol, values in by_protocol.items()
        }
        for name, by_protocol in errors.items()
    }
    nll = frame_nll(outputs, test_samples.targets_3d)
    return {
        "model": args.model,
        "seed": args.seed,
        "epochs": args.epochs,
        "convention": args.convention,
        "averages": averages,
        "test_nll": None if nll is None else float(nll.mean()),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--reference-repo", required=True, help="a clone of vectra-ai-research/GraphMDN"
    )
    parser.add_argument("--model", choices=("graphmdn", "semgcn"), default="graphmdn")
    parser.add_argument("--dataset", default="cmu")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--train-subjects", default="")
    parser.add_argument("--test-subjects", default="")
    parser.add_argument("--stride", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--peak-learning-rate", type=float, default=6e-3)
    parser.add_argument("--hidden-dim", type=int, default=128)
    parser.add_argument("--num-blocks", type=int, default=4)
    parser.add_argument("--num-kernels", type=int, default=5)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--convention", choices=("paper", "raw"), default="paper")
    parser.add_argument(
        "--out", required=True, help="an .npz of the test outputs; the scores go beside it as .json"
    )
    train(parser.parse_args(argv))


if __name__ == "__main__":
    main()
