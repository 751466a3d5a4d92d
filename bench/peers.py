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


# ---------------------------------------------------------------- multiplier peers (issue 16)
def _gram_numpy(X, y, W, u, s):
    """G_ik = y_i y_k K_ik sum_j u_j^2 s_ij s_kj and b_i = y_i <grad N(x_i), theta/s> (fixed-u ReLU net,
    model normalized by s), with numpy's BLAS (K by X @ X.T)."""
    Zn = (X @ W.T) / s
    S = (Zn > 0).astype(np.float64) * u[None, :]
    K = X @ X.T
    G = (y[:, None] * y[None, :]) * K * (S @ S.T)
    b = y * (S * Zn).sum(axis=1)
    return G, b, S


def _certificate(X, y, W, u, s, lam, S):
    """epsilon = ||theta/s - sum_i lambda_i y_i grad N(x_i)|| formed explicitly (m x d)."""
    coef = (lam * y)[:, None] * S
    return float(np.linalg.norm(W / s - coef.T @ X))


def multipliers_chol(X, y, W, u, s):
    """`chol` peer: the Gram matrix, its Cholesky factor R (G = R^T R), scipy.optimize.nnls on
    (R, R^{-T} b), then epsilon. Returns (lambda, epsilon)."""
    from scipy.linalg import cholesky, solve_triangular
    from scipy.optimize import nnls

    G, b, S = _gram_numpy(X, y, W, u, s)
    R = cholesky(G + 1e-12 * np.trace(G) / len(G) * np.eye(len(G)))
    lam, _ = nnls(R, solve_triangular(R, b, trans="T"), maxiter=50 * len(b))
    return lam, _certificate(X, y, W, u, s, lam, S)


def multipliers_pg(X, y, W, u, s, tol=1e-10, max_iter=100_000):
    """`pg` peer: the Gram matrix and accelerated projected gradient (FISTA with gradient restart,
    step 1 / lambda_max(G) from scipy's eigsh) on min_{lambda >= 0} 1/2 lambda^T G lambda - b^T lambda,
    stopped by the same test as kktunlearn's solvers: max(max_{lambda_i = 0} w_i, max_{lambda_i > 0} |w_i|)
    <= tol * max|b|, w = b - G lambda. Returns (lambda, epsilon, iterations)."""
    G, b, S = _gram_numpy(X, y, W, u, s)
    lam, it = fista_gram(G, b, tol=tol, max_iter=max_iter)
    return lam, _certificate(X, y, W, u, s, lam, S), it


def fista_gram(G, b, tol=1e-10, max_iter=100_000):
    """FISTA with gradient restart (O'Donoghue & Candes 2015) on min_{lambda >= 0} 1/2 lambda^T G lambda -
    b^T lambda, step 1 / lambda_max(G) (scipy's eigsh), stopped when max(max_{lambda_i = 0} w_i,
    max_{lambda_i > 0} |w_i|) <= tol * max|b|, w = b - G lambda (checked every 10 iterations).
    Returns (lambda, iterations)."""
    from scipy.sparse.linalg import eigsh

    Lip = float(eigsh(G, k=1, which="LA", return_eigenvectors=False)[0])
    lam = np.zeros_like(b)
    z, t, thr = lam.copy(), 1.0, tol * np.abs(b).max()
    it = 0
    for it in range(1, max_iter + 1):
        new = np.maximum(z + (b - G @ z) / Lip, 0.0)
        t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        if np.dot(new - lam, z - new) > 0:
            t_new, z = 1.0, new
        else:
            z = new + ((t - 1.0) / t_new) * (new - lam)
        lam, t = new, t_new
        if it % 10 == 0:
            wl = b - G @ lam
            if np.max(np.where(lam > 0, np.abs(wl), wl)) <= thr:
                break
    return lam, it
