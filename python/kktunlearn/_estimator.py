"""The scikit-learn parameter protocol of the estimators, without a scikit-learn dependency.

This module is one of the three layers of an estimator (see also :mod:`kktunlearn._span`, the
representation of the fitted first layer, and :mod:`kktunlearn._training`, the training engine):
constructor parameters (``get_params`` / ``set_params`` / ``repr`` / ``clone``), the estimator tags
that scikit-learn >= 1.6 reads (``__sklearn_tags__``, and ``_more_tags`` for older releases), the
fitted-state protocol (``__sklearn_is_fitted__``), and the registry of model classes that the model
file reader (:mod:`kktunlearn.io`) uses, so that neither :mod:`kktunlearn.io` nor
:mod:`kktunlearn.unlearning` imports :mod:`kktunlearn.models`.

scikit-learn is imported lazily and only by scikit-learn's own entry points (``__sklearn_tags__``
is called by scikit-learn, which is then already imported): importing kktunlearn never imports
scikit-learn (a cold ``import sklearn`` takes seconds, which every sweep worker would pay), and numpy
stays the only required runtime dependency. The estimators therefore do not inherit from
``sklearn.base.BaseEstimator``; they implement its protocol, which ``sklearn.base.clone``,
``Pipeline``, ``GridSearchCV``, ``cross_val_score`` and ``check_estimator`` rely on.
"""

from __future__ import annotations

import inspect
from typing import Any, Dict, List, Type

import numpy as np

# model classes by name, filled by ParamsMixin.__init_subclass__ (the model file reader's fixed registry)
_REGISTRY: Dict[str, type] = {}

# scikit-learn checks that cannot apply to these estimators, with the reason (declared to
# parametrize_with_checks / check_estimator through `expected_failed_checks`, and as the
# `_xfail_checks` tag for scikit-learn < 1.6)
_EXPECTED_FAILED_CHECKS: Dict[str, str] = {}


class ParamsMixin:
    """Constructor parameters, repr, tags and clone in scikit-learn's conventions.

    Subclasses declare every hyper-parameter as a keyword of ``__init__`` and store it unchanged
    under the same name (validation happens in ``fit``), as scikit-learn requires.
    """

    _estimator_type = "classifier"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # only the library's own public estimators (a model file can name nothing else)
        if not cls.__name__.startswith("_") and cls.__module__.startswith("kktunlearn."):
            _REGISTRY[cls.__name__] = cls

    @classmethod
    def _get_param_names(cls) -> List[str]:
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self, deep: bool = True) -> Dict[str, Any]:
        """Constructor parameters as a dict (scikit-learn convention).

        Parameters
        ----------
        deep : bool, default=True
            Accepted for scikit-learn compatibility; no parameter is itself an estimator.

        Returns
        -------
        dict
            Parameter name -> current value.
        """
        return {k: getattr(self, k) for k in self._get_param_names()}

    def set_params(self, **params: Any) -> Any:
        """Set constructor parameters (validated at the next ``fit``).

        Parameters
        ----------
        **params
            Parameter name -> new value.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            For a name that is not a constructor parameter.
        """
        valid = set(self._get_param_names())
        for k, v in params.items():
            if k not in valid:
                raise ValueError(f"invalid parameter {k!r} for estimator {type(self).__name__}; "
                                 f"valid parameters are: {sorted(valid)}")
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        cls = type(self)
        defaults = {k: p.default for k, p in inspect.signature(cls.__init__).parameters.items() if k != "self"}
        parts = []
        for k, v in self.get_params().items():
            dv = defaults.get(k, inspect.Parameter.empty)
            try:
                same = dv is not inspect.Parameter.empty and (v is dv or bool(v == dv))
            except Exception:
                same = False
            if not same:
                parts.append(f"{k}={v!r}")
        return f"{cls.__name__}({', '.join(parts)})"

    # ------------------------------------------------------------------ scikit-learn tags
    def __sklearn_is_fitted__(self) -> bool:
        return bool(getattr(self, "is_fitted_", False))

    def __sklearn_tags__(self) -> Any:
        """Estimator tags for scikit-learn >= 1.6: a binary classifier of dense, finite 2-D float input
        that needs y; no sparse input, no NaN, no multi-class and no multi-output targets."""
        from sklearn.utils import ClassifierTags, InputTags, Tags, TargetTags

        return Tags(estimator_type="classifier", target_tags=TargetTags(required=True, single_output=True),
                    classifier_tags=ClassifierTags(multi_class=False, multi_label=False),
                    input_tags=InputTags(two_d_array=True, sparse=False, allow_nan=False), requires_fit=True)

    def _more_tags(self) -> Dict[str, Any]:
        # the same tags for scikit-learn < 1.6 (which reads _more_tags / _get_tags)
        return {"binary_only": True, "requires_y": True, "allow_nan": False, "X_types": ["2darray"],
                "_xfail_checks": dict(self._sklearn_expected_failed_checks())}

    def _get_tags(self) -> Dict[str, Any]:
        tags = {"non_deterministic": False, "requires_positive_X": False, "requires_positive_y": False,
                "X_types": ["2darray"], "poor_score": False, "no_validation": False, "multioutput": False,
                "allow_nan": False, "stateless": False, "multilabel": False, "_skip_test": False,
                "_xfail_checks": False, "multioutput_only": False, "binary_only": False, "requires_fit": True,
                "preserves_dtype": [np.float64], "requires_y": False, "pairwise": False}
        tags.update(self._more_tags())
        return tags

    @classmethod
    def _sklearn_expected_failed_checks(cls) -> Dict[str, str]:
        """scikit-learn checks that cannot apply to this estimator, name -> reason (pass to
        ``parametrize_with_checks(..., expected_failed_checks=...)``)."""
        out = dict(_EXPECTED_FAILED_CHECKS)
        try:
            import sklearn

            major, minor = (int(v) for v in sklearn.__version__.split(".")[:2])
        except (ImportError, ValueError):
            return out
        if (major, minor) < (1, 7):
            # scikit-learn 1.6's _check_sample_weight_equivalence binarizes y for binary-only estimators
            # by comparing with y.flat[0] separately in the shuffled (weighted) and the repeated data, so
            # the two fits can see different label sets; the check itself is fixed in later releases
            reason = ("scikit-learn < 1.7 binarizes the weighted and the repeated labels differently in this "
                      "check (y.flat[0] of two different orderings); kktunlearn passes it on scikit-learn >= 1.7")
            out["check_sample_weight_equivalence_on_dense_data"] = reason
        return out


def clone(model: Any) -> Any:
    """An unfitted copy with the same constructor parameters (scikit-learn's ``clone``).

    Parameters
    ----------
    model : LinearModel or TwoLayerReLU

    Returns
    -------
    model
        A new, unfitted estimator of the same class; array parameters are copied.

    Raises
    ------
    TypeError
        When `model` is not a kktunlearn estimator.
    """
    if not isinstance(model, ParamsMixin):
        raise TypeError(f"clone expects a kktunlearn model, got {type(model).__name__}")
    params = {k: (np.array(v, copy=True) if isinstance(v, np.ndarray) else v) for k, v in model.get_params().items()}
    return type(model)(**params)


def model_classes() -> Dict[str, Type[Any]]:
    """The registered model classes by name (LinearModel, TwoLayerReLU)."""
    return dict(_REGISTRY)
