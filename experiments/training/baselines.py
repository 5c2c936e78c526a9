"""Baselines: the models every project must beat before a network is worth its cost.

Why these four: majority (the floor: what accuracy costs nothing), logistic regression (the
strong linear baseline for tabular and flattened images), random forest (non-linear, no tuning,
robust to unscaled features) and TF-IDF + logistic regression (the classic text baseline). They
are scikit-learn estimators fitted in one call, so there are no epochs to report: validation
metrics are logged once at step 0, with the training log-loss where the model actually minimises
it (majority, logistic regression); a random forest's in-sample probabilities are not a loss it
optimises and would read as a misleading near-zero. Cancellation is checked before the fit (a
scikit-learn fit cannot be interrupted part-way). Every estimator gets the config's seed and
n_jobs=1 so re-runs are identical.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sklearn.dummy import DummyClassifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from experiments.training.callbacks import Callbacks
from experiments.training.config import BaseConfig, check_at_least, check_positive
from experiments.training.data import TrainData
from experiments.training.metrics import cross_entropy, validation_metrics
from experiments.training.result import TrainResult
from experiments.training.trained import SklearnModel


@dataclass(frozen=True)
class MajorityConfig(BaseConfig):
    pass


@dataclass(frozen=True)
class LogisticRegressionConfig(BaseConfig):
    C: float = 1.0
    max_iter: int = 1000
    # Unscaled features (digit pixels 0..16, tabular columns in mixed units) slow the solver and
    # skew the L2 penalty; scaling on the training split is the sensible default.
    standardize: bool = True

    def validate(self) -> None:
        super().validate()
        check_positive("C", self.C)
        check_at_least("max_iter", self.max_iter, 1)


@dataclass(frozen=True)
class RandomForestConfig(BaseConfig):
    n_estimators: int = 100
    max_depth: int | None = None
    min_samples_leaf: int = 1

    def validate(self) -> None:
        super().validate()
        check_at_least("n_estimators", self.n_estimators, 1)
        if self.max_depth is not None:
            check_at_least("max_depth", self.max_depth, 1)
        check_at_least("min_samples_leaf", self.min_samples_leaf, 1)


@dataclass(frozen=True)
class TfidfLogRegConfig(BaseConfig):
    C: float = 10.0
    max_iter: int = 1000
    ngram_max: int = 2
    min_df: int = 1
    max_features: int | None = 50_000
    sublinear_tf: bool = True

    def validate(self) -> None:
        super().validate()
        check_positive("C", self.C)
        check_at_least("max_iter", self.max_iter, 1)
        check_at_least("ngram_max", self.ngram_max, 1)
        check_at_least("min_df", self.min_df, 1)
        if self.max_features is not None:
            check_at_least("max_features", self.max_features, 1)


def _estimator(name: str, config: Any) -> Any:
    if name == "majority":
        return DummyClassifier(strategy="prior")
    if name == "logistic_regression":
        model = LogisticRegression(C=config.C, max_iter=config.max_iter, random_state=config.seed)
        return make_pipeline(StandardScaler(), model) if config.standardize else model
    if name == "random_forest":
        return RandomForestClassifier(
            n_estimators=config.n_estimators,
            max_depth=config.max_depth,
            min_samples_leaf=config.min_samples_leaf,
            random_state=config.seed,
            n_jobs=1,
        )
    if name == "tfidf_logreg":
        return Pipeline(
            [
                (
                    "tfidf",
                    TfidfVectorizer(
                        ngram_range=(1, config.ngram_max),
                        min_df=config.min_df,
                        max_features=config.max_features,
                        sublinear_tf=config.sublinear_tf,
                    ),
                ),
                (
                    "logreg",
                    LogisticRegression(C=config.C, max_iter=config.max_iter, random_state=config.seed),
                ),
            ]
        )
    raise AssertionError(f"no baseline estimator for {name}")  # the registry only routes known names


# Trainers whose training log-loss is the quantity they minimise, hence worth logging.
_LOGS_TRAIN_LOSS = {"majority", "logistic_regression", "tfidf_logreg"}


def train_baseline(name: str, data: TrainData, config: BaseConfig, callbacks: Callbacks) -> TrainResult:
    callbacks.logger.log_params({"trainer": name, **config.as_params(), **data.summary()})
    if callbacks.should_stop():
        return TrainResult(status="cancelled", model=None, metrics={}, epochs=0, steps=0)
    callbacks.progress(0.0, f"fitting {name}")
    estimator = _estimator(name, config)
    estimator.fit(data.x_train, data.y_train_idx)
    model = SklearnModel(
        trainer=name,
        classes=data.classes,
        kind=data.kind,
        estimator=estimator,
        n_features=data.n_features,
        image_shape=data.image_shape,
    )
    metrics = validation_metrics(model.predict_proba(data.x_val), data.y_val_idx)
    if name in _LOGS_TRAIN_LOSS:
        metrics["train_loss"] = cross_entropy(model.predict_proba(data.x_train), data.y_train_idx)
    callbacks.logger.log_metrics(metrics, 0)
    callbacks.progress(1.0, f"{name}: validation accuracy {metrics['val_accuracy']:.3f}")
    return TrainResult(status="completed", model=model, metrics=metrics, epochs=1, steps=1)
