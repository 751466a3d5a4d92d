"""benchopt objective: every unlearning method judged by one certificate.

The objective trains the original model on the dataset's training set (full-batch GD into the KKT
regime of margin maximization), retrains the oracle on the retained set from the same
initialization, and evaluates every solver's unlearned model with ``kktunlearn.verify_unlearning``
in the original model's scale: the (epsilon, delta, tau)-successful unlearning certificate of
Melamed, Yehudai & Vardi (arXiv:2510.14844) in both readings of the Clarke subdifferential (the
relaxed radius is the displacement of the KKT-scaled GA step, ``kktunlearn.kkt.ga_radius``, one
radius for every solver), the cosine to the retrained model, the Tug-of-War of Bui et al.
(arXiv:2406.14507) and the test accuracy. The headline ``value`` is the literal epsilon_rel.
"""

from benchopt import BaseObjective

try:  # benchopt >= 1.6
    from benchopt import safe_import_context
except ImportError:  # pragma: no cover
    safe_import_context = None

if safe_import_context is not None:
    with safe_import_context() as import_ctx:
        import numpy as np

        import kktunlearn as kk
        from kktunlearn import metrics
        from kktunlearn.kkt import ga_radius
else:  # pragma: no cover
    import numpy as np

    import kktunlearn as kk
    from kktunlearn import metrics
    from kktunlearn.kkt import ga_radius


class Objective(BaseObjective):
    name = "KKT unlearning certificate"
    url = "https://arxiv.org/abs/2510.14844"
    # the headline number: smaller is better (benchopt minimizes `value`)
    parameters = {
        "model": ["relu", "linear"],
        "n_forget": [1],
        "width": [20],
        "max_iter": [1500],
    }
    requirements: list = []  # kktunlearn itself: install the checkout (pip install ".[benchopt]")
    min_benchopt_version = "1.5"

    def set_data(self, X, y, X_test, y_test):
        self.X, self.y, self.X_test, self.y_test = X, y, X_test, y_test
        if self.model == "linear":
            original = kk.LinearModel(max_iter=self.max_iter)
        else:
            original = kk.TwoLayerReLU(width=self.width, random_state=0, max_iter=self.max_iter)
        self.original = original.fit(X, y)
        self.forget = list(range(self.n_forget))
        self.retrained = kk.unlearn(self.original, X, y, self.forget, method="retrain")
        self.radius = ga_radius(self.original, X, y, self.forget)
        keep = np.ones(X.shape[0], dtype=bool)
        keep[self.forget] = False
        self.keep = keep

    def get_objective(self):
        return dict(model=self.original, X=self.X, y=self.y, forget=self.forget)

    def evaluate_result(self, model):
        rep = kk.verify_unlearning(model, self.X, self.y, self.forget, retrained=self.retrained,
                                   original=self.original, relaxed_radius=self.radius)
        sets = [(self.X[~self.keep], self.y[~self.keep]), (self.X[self.keep], self.y[self.keep]),
                (self.X_test, self.y_test)]
        return dict(
            value=rep.epsilon_rel,
            epsilon=rep.epsilon,
            delta=rep.delta,
            tau=rep.tau,
            relaxed_epsilon=rep.epsilon_relaxed,
            relaxed_epsilon_rel=rep.epsilon_rel_relaxed,
            cosine_to_retrained=rep.cosine_to_retrained,
            tow=metrics.tug_of_war_models(model, self.retrained, sets),
            test_accuracy=metrics.accuracy(model, self.X_test, self.y_test),
            step_norm=metrics.step_norm(self.original, model),
        )

    def get_one_result(self):
        # "do nothing": the original model itself
        return dict(model=self.original)
