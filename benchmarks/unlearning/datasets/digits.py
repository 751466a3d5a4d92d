"""scikit-learn's 8x8 digits, binarized (even +1 / odd -1), unit-norm rows; a small training sample."""

from benchopt import BaseDataset

try:
    from benchopt import safe_import_context
except ImportError:  # pragma: no cover
    safe_import_context = None

if safe_import_context is not None:
    with safe_import_context() as import_ctx:
        import numpy as np

        from kktunlearn.datasets import load_digits_binary
else:  # pragma: no cover
    import numpy as np

    from kktunlearn.datasets import load_digits_binary


class Dataset(BaseDataset):
    name = "digits"
    # small: the fixed-output-layer network of the objective fits 40 images at the default width and
    # training length (with n = 60-100 some images end with every neuron inactive, margin 0)
    parameters = {"n": [40], "seed": [0]}
    requirements = ["pip:scikit-learn"]  # and kktunlearn itself (pip install ".[benchopt]")

    def get_data(self):
        X, y = load_digits_binary()
        perm = np.random.default_rng(self.seed).permutation(X.shape[0])
        tr, te = perm[: self.n], perm[self.n:]
        return dict(X=X[tr], y=y[tr], X_test=X[te], y_test=y[te])
