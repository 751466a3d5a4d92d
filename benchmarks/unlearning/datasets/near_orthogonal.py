"""Near-orthogonal Gaussian data, rows N(0, I_d / d) (the setting of arXiv:2510.14844)."""

from benchopt import BaseDataset

try:
    from benchopt import safe_import_context
except ImportError:  # pragma: no cover
    safe_import_context = None

if safe_import_context is not None:
    with safe_import_context() as import_ctx:
        from kktunlearn.datasets import near_orthogonal
else:  # pragma: no cover
    from kktunlearn.datasets import near_orthogonal


class Dataset(BaseDataset):
    name = "near_orthogonal"
    parameters = {"n": [20], "d": [1000], "seed": [0]}
    requirements: list = []  # kktunlearn itself: install the checkout (pip install ".[benchopt]")

    def get_data(self):
        X, y = near_orthogonal(self.n, self.d, seed=self.seed)
        X_test, y_test = near_orthogonal(500, self.d, seed=self.seed + 10_000)
        return dict(X=X, y=y, X_test=X_test, y_test=y_test)
