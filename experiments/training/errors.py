"""Errors the training package raises for input a person chose (a trainer name, a config value,
a data set that cannot be trained on).

They subclass ValueError so a caller that only knows "bad input" still catches them, and they
share one base class so the job layer can turn exactly these into a user-facing message while any
other exception stays a bug with a traceback. Messages name the offending field and value and are
written for the person who filled in the form, not for a developer.
"""

from __future__ import annotations


class TrainingInputError(ValueError):
    """Base for every error caused by the caller's choices rather than by a bug."""


class TrainingConfigError(TrainingInputError):
    """Unknown trainer, unknown or ill-typed config field, out-of-range value, or a trainer that
    cannot train on the given kind of data."""


class TrainingDataError(TrainingInputError):
    """Data that cannot be trained on: mismatched lengths, unknown labels, non-finite values."""
