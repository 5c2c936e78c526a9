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


# A version listener is called inside the transaction that marks a version-writing job succeeded,
# with `version` (just marked ready) and `job`, once per version: an app above datasets that
# started the write follows it up there (the loop back to labelling makes its campaign over the
# version). It must not raise for a version it did not ask for.
VersionListener = Callable[..., None]

_version_listeners: list[VersionListener] = []


def register_version_listener(listener: VersionListener) -> None:
    if listener not in _version_listeners:
        _version_listeners.append(listener)


def version_listeners() -> list[VersionListener]:
    return list(_version_listeners)
