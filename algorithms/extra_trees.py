"""extra-trees: scikit-learn's extremely randomized trees, grown until its tree count or deadline."""
from __future__ import annotations

from algorithms._forest import Forest


class ExtraTrees(Forest):
    name = "extra-trees"

    def _estimator_classes(self) -> tuple[type, type]:
        from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor

        return ExtraTreesClassifier, ExtraTreesRegressor
