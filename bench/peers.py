"""Peer implementations: what a researcher writes today with numpy or PyTorch on the CPU.

The same math as kktunlearn's trainer: two-layer ReLU net N(x) = sum_j u_j relu(<w_j, x>), fixed u,
mean exponential loss, normalized GD lr_t = eta / L(W_t), full batch, two matrix products per step
(Z = X W^T forward, W += Gamma^T X backward). Plus the one-time K = X X^T and the multipliers by
NNLS on the Gram matrix of the per-example gradients (spec 9.1).
"""

from __future__ import annotations

import numpy as np


def numpy_train(X, y, W0, u, steps, lr=0.5):
    """Full-batch normalized GD, plain numpy (W = W0 + updates, X @ W.T and Gamma.T @ X per step)."""
    W = W0.copy()
    n = X.shape[0]
    for _ in range(steps):
        Z = X @ W.T
        q = y * (np.maximum(Z, 0.0) @ u)
        ell = np.exp(-q)
        L = ell.mean()
        c = (lr / L) * ell * y / n           # -lr_t * l'(q_i) * y_i / n, l' = -exp(-q)
        Gamma = (c[:, None] * u[None, :]) * (Z > 0)
        W += Gamma.T @ X
    return W


def torch_train(X, y, W0, u, steps, lr=0.5, n_threads=None):
    """The same with PyTorch autograd on the CPU (loss.backward(), then an in-place update)."""
    import torch

    if n_threads:
        torch.set_num_threads(int(n_threads))
    Xt = torch.from_numpy(X)
    yt = torch.from_numpy(np.asarray(y, dtype=X.dtype))
    ut = torch.from_numpy(np.asarray(u, dtype=X.dtype))
    W = torch.from_numpy(W0.copy()).requires_grad_(True)
    for _ in range(steps):
        q = yt * (torch.relu(Xt @ W.T) @ ut)
        loss = torch.exp(-q).mean()
        loss.backward()
        with torch.no_grad():
            W -= (lr / loss.item()) * W.grad
        W.grad = None
    return W.detach().numpy()


def numpy_multipliers(X, y, W, u):
    """Multipliers of the KKT conditions by NNLS on the Gram matrix (fixed-u ReLU net, spec 9.1):
    normalize theta by the min margin, G_ik = y_i y_k <grad N(x_i), grad N(x_k)>
    = y_i y_k (X X^T)_ik sum_j u_j^2 s_ij s_kj, b_i = y_i <grad N(x_i), theta> = q_i, then
    lambda = argmin_{lambda >= 0} ||theta - J^T (y o lambda)||, solved as NNLS on the Cholesky
    factor of G, and the report (epsilon = residual norm, delta = sum lambda_i (q_i - 1))."""
    from scipy.linalg import cholesky, solve_triangular
    from scipy.optimize import nnls

    Z = X @ W.T
    q = y * (np.maximum(Z, 0.0) @ u)
    s = q.min()
    Wn = W / s
    Zn = Z / s
    qn = q / s
    S = (Zn > 0).astype(np.float64) * u[None, :]
    K = X @ X.T
    G = (y[:, None] * y[None, :]) * K * (S @ S.T)
    b = qn                                      # y_i <grad N(x_i), theta> = q_i (degree 1)
    R = cholesky(G + 1e-12 * np.trace(G) / len(G) * np.eye(len(G)))  # G = R^T R
    lam, _ = nnls(R, solve_triangular(R, b, trans="T"))
    # residual theta - sum_i lambda_i y_i grad N(x_i), formed explicitly (m x d)
    coef = (lam * y)[:, None] * S               # n x m
    resid = Wn - coef.T @ X
    eps = float(np.linalg.norm(resid))
    delta = float(np.sum(lam * (qn - 1.0)))
    return lam, eps, delta
