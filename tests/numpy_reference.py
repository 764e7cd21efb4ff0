"""Independent NumPy evaluations of the reference (PyTorch SemGCN/GraphMDN) formulas, for tests.

Written from the equations and the reference's tensor layout, deliberately without the
optimisations of the Keras layers (no folding, explicit permute / pool / restore).
"""

from __future__ import annotations

import numpy as np


def softmax(x, axis=-1):
    z = x - x.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def sem_graph_conv(x, kernel_2io, edge_logits, bias, adjacency_with_self_loops):
    """out = (softmax(M) * I) X W0 + (softmax(M) * (1 - I)) X W1 + b, M = e on the mask, -9e15 off it."""
    mask = adjacency_with_self_loops > 0
    logits = np.full(mask.shape, -9e15, dtype=np.float64)
    logits[mask] = edge_logits  # boolean indexing is row-major, as in the reference
    weights = softmax(logits, axis=1)
    eye = np.eye(mask.shape[0])
    h0 = x @ kernel_2io[0]
    h1 = x @ kernel_2io[1]
    return (
        np.einsum("ij,bjf->bif", weights * eye, h0)
        + np.einsum("ij,bjf->bif", weights * (1 - eye), h1)
        + bias
    )


def batch_norm(x, gamma, beta, mean, var, eps=1e-5):
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def non_local(x, p, grouped_order, group_size):
    """The reference `_GraphNonLocal` in inference mode. x [B, N, C]; p holds torch-layout weights:
    g_w/theta_w/phi_w [I, C], g_b/theta_b/phi_b [I], concat_w [2I], out_w [C, I], out_b [C],
    bn_gamma/bn_beta/bn_mean/bn_var [C]."""
    grouped_order = np.asarray(grouped_order)
    restored_order = np.argsort(grouped_order)
    xg = x[:, grouped_order, :].transpose(0, 2, 1)  # [B, C, N] as the reference's Conv1d input
    batch, channels, nodes = xg.shape

    def conv1x1(t, w, b):
        return np.einsum("oc,bcn->bon", w, t) + b[None, :, None]

    def max_pool(t):
        return t.reshape(batch, t.shape[1], nodes // group_size, group_size).max(axis=-1)

    g = conv1x1(xg, p["g_w"], p["g_b"])
    phi = conv1x1(xg, p["phi_w"], p["phi_b"])
    if group_size > 1:
        g, phi = max_pool(g), max_pool(phi)
    theta = conv1x1(xg, p["theta_w"], p["theta_b"])  # [B, I, N]
    inter = theta.shape[1]
    h, w = theta.shape[2], phi.shape[2]
    theta_e = np.broadcast_to(theta[:, :, :, None], (batch, inter, h, w))
    phi_e = np.broadcast_to(phi[:, :, None, :], (batch, inter, h, w))
    concat = np.concatenate([theta_e, phi_e], axis=1)  # [B, 2I, h, w]
    f = np.maximum(np.einsum("c,bchw->bhw", p["concat_w"], concat), 0.0) / w
    y = f @ g.transpose(0, 2, 1)  # [B, h, I]
    w_y = conv1x1(y.transpose(0, 2, 1), p["out_w"], p["out_b"])  # [B, C, N]
    w_y = batch_norm(w_y.transpose(0, 2, 1), p["bn_gamma"], p["bn_beta"], p["bn_mean"], p["bn_var"])
    z = w_y + xg.transpose(0, 2, 1)
    return z[:, restored_order, :]


def random_non_local_params(rng, channels, inter):
    return {
        "g_w": rng.normal(size=(inter, channels)),
        "g_b": rng.normal(size=inter),
        "theta_w": rng.normal(size=(inter, channels)),
        "theta_b": rng.normal(size=inter),
        "phi_w": rng.normal(size=(inter, channels)),
        "phi_b": rng.normal(size=inter),
        "concat_w": rng.normal(size=2 * inter),
        "out_w": rng.normal(size=(channels, inter)),
        "out_b": rng.normal(size=channels),
        "bn_gamma": rng.normal(size=channels),
        "bn_beta": rng.normal(size=channels),
        "bn_mean": rng.normal(size=channels),
        "bn_var": rng.uniform(0.5, 2.0, size=channels),
    }


def set_non_local_weights(layer, p):
    """Load torch-layout weights `p` into a built GraphNonLocal."""
    layer.g_kernel.assign(p["g_w"].T)
    layer.g_bias.assign(p["g_b"])
    layer.theta_kernel.assign(p["theta_w"].T)
    layer.theta_bias.assign(p["theta_b"])
    layer.phi_kernel.assign(p["phi_w"].T)
    layer.phi_bias.assign(p["phi_b"])
    layer.concat_kernel.assign(p["concat_w"])
    layer.output_kernel.assign(p["out_w"].T)
    layer.output_bias.assign(p["out_b"])
    norm = layer.output_norm
    norm.gamma.assign(p["bn_gamma"])
    norm.beta.assign(p["bn_beta"])
    norm.moving_mean.assign(p["bn_mean"])
    norm.moving_variance.assign(p["bn_var"])


def log_normal_isotropic(squared_distance, sigma, dims):
    """log of an isotropic Gaussian density in `dims` dimensions, given ||y - mu||^2."""
    return (
        -0.5 * squared_distance / sigma**2 - dims * np.log(sigma) - 0.5 * dims * np.log(2 * np.pi)
    )


def logsumexp(a, axis):
    m = a.max(axis=axis, keepdims=True)
    return (m + np.log(np.exp(a - m).sum(axis=axis, keepdims=True))).squeeze(axis)


def pose_level_nll(y, mu, sigma, pi_logits):
    """Eq. 9 per example: y [B, N, D], mu [B, M, N, D], sigma [B, M], pi_logits [B, M]."""
    sq = ((y[:, None] - mu) ** 2).sum(axis=(2, 3))  # [B, M]
    dims = mu.shape[2] * mu.shape[3]
    log_pi = pi_logits - logsumexp(pi_logits, 1)[:, None]
    return -logsumexp(log_pi + log_normal_isotropic(sq, sigma, dims), 1)


def node_level_nll(y, mu, sigma, pi_logits):
    """Eq. 5 per example: mu [B, M, N, D], sigma [B, M, N], pi_logits [B, M, N]."""
    sq = ((y[:, None] - mu) ** 2).sum(axis=3)  # [B, M, N]
    log_pi = pi_logits - logsumexp(pi_logits, 1)[:, None]
    per_node = logsumexp(log_pi + log_normal_isotropic(sq, sigma, mu.shape[3]), 1)  # [B, N]
    return -per_node.sum(axis=1)
