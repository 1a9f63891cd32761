"""randomforest: scikit-learn's random forest (native missing values), grown until its tree count or deadline."""
from __future__ import annotations

from algorithms._forest import Forest


class RandomForest(Forest):
    name = "randomforest"

    def _estimator_classes(self) -> tuple[type, type]:
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        return RandomForestClassifier, RandomForestRegressor
