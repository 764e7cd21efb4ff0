"""Statistical checks of poses sampled from a mixture with well-separated kernels, against its parameters
computed independently in NumPy (for tests of the sampler and of the exported `sample` signature).

Each sample is assigned to its nearest kernel mean (pose level: over the whole pose; node level: per
node), which for kernels many sigma apart is the kernel it was drawn from. Then:
- kernel frequencies against pi: Pearson's chi-square below `CHI2_LIMIT[dof]`, the 1 - 1e-6 quantile;
- each kernel's mean and standard deviation per joint and coordinate against mu and sigma, within five
  standard errors (sigma / sqrt(n) for the mean, sigma / sqrt(2 n) for the standard deviation);
- pose level: one kernel for the whole pose; node level: the kernels of two nodes independent
  (chi-square of their joint frequencies against the product of the marginals).
The seeds are fixed by the tests, so a verdict never depends on an unseeded draw; the limits say how
unlikely a correct sampler is to fail them.
"""

from __future__ import annotations

import numpy as np

# The 1 - 1e-6 quantiles of the chi-square distribution with `dof` degrees of freedom.
CHI2_LIMIT = {2: 27.63, 4: 33.38, 8: 41.32}
STANDARD_ERRORS = 5.0


def _chi_square(counts: np.ndarray, expected: np.ndarray) -> float:
    return float(np.sum((counts - expected) ** 2 / expected))


def nearest_kernels(samples: np.ndarray, mu: np.ndarray, level: str) -> np.ndarray:
    """samples [S, N, D], mu [M, N, D] -> kernel index [S] (pose) or [S, N] (node)."""
    squared = np.sum((samples[:, None] - mu[None]) ** 2, axis=-1)  # [S, M, N]
    if level == "pose":
        return np.argmin(np.sum(squared, axis=-1), axis=1)
    return np.argmin(squared, axis=1)


def check_samples(samples, mu, sigma, pi, level: str) -> None:
    """Assert that `samples` [S, N, D] of one input follow the mixture mu [M, N, D], sigma [M] or
    [M, N], pi [M] (pose) or [M, N] (node); see the module docstring."""
    samples, mu = np.asarray(samples, np.float64), np.asarray(mu, np.float64)
    kernels, nodes, _ = mu.shape
    sigma = np.broadcast_to(np.asarray(sigma, np.float64).reshape(kernels, -1), (kernels, nodes))
    pi = np.asarray(pi, np.float64)
    count = len(samples)
    assignment = nearest_kernels(samples, mu, level)
    per_node = assignment[:, None].repeat(nodes, 1) if level == "pose" else assignment  # [S, N]
    if level == "pose":  # one kernel for the whole pose: every node's nearest mean is that kernel's
        np.testing.assert_array_equal(nearest_kernels(samples, mu, "node"), per_node)
    for node in range(nodes) if level == "node" else [0]:
        weights = pi[:, node] if level == "node" else pi
        counts = np.bincount(per_node[:, node], minlength=kernels)
        statistic = _chi_square(counts, count * weights)
        assert statistic < CHI2_LIMIT[kernels - 1], (node, counts, count * weights)
    for kernel in range(kernels):
        for node in range(nodes):
            drawn = samples[per_node[:, node] == kernel, node]  # [n, D]
            n = len(drawn)
            assert n > 100, (kernel, node, n)
            spread = sigma[kernel, node]
            error = np.abs(drawn.mean(axis=0) - mu[kernel, node])
            assert np.all(error < STANDARD_ERRORS * spread / np.sqrt(n)), (kernel, node, error)
            ratio = drawn.std(axis=0, ddof=1) / spread
            assert np.all(np.abs(ratio - 1) < STANDARD_ERRORS / np.sqrt(2 * n)), (kernel, node)


def check_independent_nodes(samples, mu, pi, pairs) -> None:
    """Node level: for each (a, b) in `pairs`, the kernels drawn at nodes a and b are independent."""
    assignment = nearest_kernels(
        np.asarray(samples, np.float64), np.asarray(mu, np.float64), "node"
    )
    kernels = mu.shape[0]
    for a, b in pairs:
        joint = np.zeros((kernels, kernels))
        np.add.at(joint, (assignment[:, a], assignment[:, b]), 1)
        expected = len(samples) * np.outer(pi[:, a], pi[:, b])
        assert _chi_square(joint, expected) < CHI2_LIMIT[(kernels - 1) ** 2], (a, b, joint)
