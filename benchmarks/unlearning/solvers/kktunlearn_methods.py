"""benchopt solver: every method of ``kktunlearn.unlearn`` (its method table ``METHODS``).

One solver, parametrized by ``method``, so that a method added to the library appears in the benchmark
without a new file. Each run calls ``kk.unlearn(model, X, y, forget, method=...)`` once, with the
method's default options (``sampling_strategy = "run_once"``: the methods are one-shot, not iterative
solvers with a convergence curve).
"""

from benchopt import BaseSolver

try:
    from benchopt import safe_import_context
except ImportError:  # pragma: no cover
    safe_import_context = None

if safe_import_context is not None:
    with safe_import_context() as import_ctx:
        import kktunlearn as kk
        from kktunlearn.unlearning import METHODS
else:  # pragma: no cover
    import kktunlearn as kk
    from kktunlearn.unlearning import METHODS


class Solver(BaseSolver):
    name = "unlearn"
    parameters = {"method": list(METHODS)}
    sampling_strategy = "run_once"
    requirements: list = []  # kktunlearn itself: install the checkout (pip install ".[benchopt]")

    def set_objective(self, model, X, y, forget):
        self.model, self.X, self.y, self.forget = model, X, y, forget

    def skip(self, model, X, y, forget):
        n_retained = X.shape[0] - len(forget)
        if self.method == "newton" and not getattr(model, "weight_decay", 0.0) and model.n_params() > n_retained:
            # plain Newton needs an invertible Hessian: with more parameters than retained points and no weight
            # decay the retained-loss Hessian is singular and kk.unlearn raises NumericalError (the Newton
            # paper's point; pinv_newton, damped_newton and cure_newton are its fixes)
            return True, "plain Newton: singular Hessian (more parameters than retained points, no weight decay)"
        return False, None

    def run(self, _):
        self.result = kk.unlearn(self.model, self.X, self.y, self.forget, method=self.method)

    def get_result(self):
        return dict(model=self.result)
