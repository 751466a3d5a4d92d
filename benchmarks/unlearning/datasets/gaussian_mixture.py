"""Gaussian mixture x = y mu + N(0, I_d / d) (the generalization setting of arXiv:2510.14844)."""

from benchopt import BaseDataset

try:
    from benchopt import safe_import_context
except ImportError:  # pragma: no cover
    safe_import_context = None

if safe_import_context is not None:
    with safe_import_context() as import_ctx:
        from kktunlearn.datasets import gaussian_mixture
else:  # pragma: no cover
    from kktunlearn.datasets import gaussian_mixture


class Dataset(BaseDataset):
    name = "gaussian_mixture"
    # mu_norm None: the library default ||mu|| = d^(-1/4)
    parameters = {"n": [20], "d": [1000], "mu_norm": [None], "label_noise": [0.0], "seed": [0]}
    requirements: list = []  # kktunlearn itself: install the checkout (pip install ".[benchopt]")

    def get_data(self):
        gm = gaussian_mixture(self.n, self.d, mu_norm=self.mu_norm, label_noise=self.label_noise, seed=self.seed)
        X_test, y_test = gm.test(1000, seed=self.seed + 10_000)
        return dict(X=gm.X, y=gm.y, X_test=X_test, y_test=y_test)
