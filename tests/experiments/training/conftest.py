"""Small, bundled data sets for the trainer tests: scikit-learn's digits (8×8 grey images) and
iris (tabular), plus a generated three-topic text set. No downloads, each builds in milliseconds,
and slices are small so every trainer test stays well under a few seconds on two cores."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits, load_iris

from experiments.training import TrainData

TOPICS = {
    "cooking": ["recipe", "oven", "salt", "bake", "flavour", "dinner", "butter", "simmer"],
    "sports": ["goal", "match", "team", "score", "coach", "league", "referee", "striker"],
    "weather": ["rain", "sunny", "cloud", "storm", "wind", "forecast", "drizzle", "frost"],
}
FILLER = ["the", "a", "today", "we", "saw", "really", "some", "and", "very", "it", "was", "of"]


def make_texts(n: int, seed: int) -> tuple[list[str], list[str]]:
    """Sentences of filler words with two topic words each; the topic is the label."""
    rng = np.random.default_rng(seed)
    names = sorted(TOPICS)
    texts, labels = [], []
    for _ in range(n):
        topic = names[rng.integers(len(names))]
        words = [*rng.choice(TOPICS[topic], 2), *rng.choice(FILLER, 6)]
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(topic)
    return texts, labels


@pytest.fixture(scope="session")
def digits() -> TrainData:
    data = load_digits()
    x, y = data.data, [str(v) for v in data.target]
    return TrainData(x[:600], y[:600], x[600:900], y[600:900], kind="image", image_shape=(8, 8))


@pytest.fixture(scope="session")
def iris() -> TrainData:
    data = load_iris()
    order = np.random.default_rng(0).permutation(len(data.target))
    names = [str(data.target_names[t]) for t in data.target]
    train, val = order[:100], order[100:]
    return TrainData(data.data[train], [names[i] for i in train], data.data[val], [names[i] for i in val])


@pytest.fixture(scope="session")
def texts() -> TrainData:
    x_train, y_train = make_texts(300, seed=1)
    x_val, y_val = make_texts(150, seed=2)
    return TrainData(x_train, y_train, x_val, y_val, kind="text")
