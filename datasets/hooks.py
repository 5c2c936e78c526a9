"""Extension points for the apps that build on datasets (never the reverse import).

A seal consumer is called inside the transaction that seals item keys of a dataset (the test part
of a split), with `dataset`, `keys` and `actor`, and drops whatever it holds of those items that
would tell their labels (labelling campaigns: queue rows, claims, annotations). It returns a
sentence for the project's timeline, or None when it held nothing.
"""

from __future__ import annotations

from collections.abc import Callable

SealConsumer = Callable[..., "str | None"]

_seal_consumers: list[SealConsumer] = []


def register_seal_consumer(consumer: SealConsumer) -> None:
    if consumer not in _seal_consumers:
        _seal_consumers.append(consumer)


def seal_consumers() -> list[SealConsumer]:
    return list(_seal_consumers)
