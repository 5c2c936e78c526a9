"""Typed trainer configs: one frozen dataclass per trainer, every field with a default.

Why dataclasses with a hand-written parser instead of passing **kwargs through: a run must be
re-creatable from its recorded parameters, so the full config (defaults included) is what gets
logged, and a config coming from a form, the API or an old run's params (JSON: lists for tuples,
ints where floats are meant) must be checked field by field with a message naming the field. An
unknown key is an error, not silently ignored: a typo like `learning_rate` would otherwise train
with the default and the run would lie about what it did.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from experiments.training.errors import TrainingConfigError

C = TypeVar("C", bound="BaseConfig")


@dataclass(frozen=True)
class BaseConfig:
    # Every trainer takes an explicit seed so a recorded run can be re-run bit for bit.
    seed: int = 0

    def validate(self) -> None:
        _check(self.seed >= 0, "seed", self.seed, "must be >= 0")

    def as_params(self) -> dict[str, Any]:
        """Flat, JSON-friendly view for logging as run parameters."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_params(cls: type[C], params: Mapping[str, Any] | None = None) -> C:
        params = dict(params or {})
        hints = typing.get_type_hints(cls)
        names = {f.name for f in dataclasses.fields(cls) if f.init}
        unknown = sorted(params.keys() - names)
        if unknown:
            raise TrainingConfigError(
                f"unknown setting(s) {', '.join(unknown)}; this trainer accepts: {', '.join(sorted(names))}"
            )
        values = {name: _coerce(name, value, hints[name]) for name, value in params.items()}
        config = cls(**values)
        config.validate()
        return config


def _check(ok: bool, name: str, value: Any, requirement: str) -> None:
    if not ok:
        raise TrainingConfigError(f"{name} {requirement} (got {value!r})")


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    _check(value in choices, name, value, f"must be one of {', '.join(choices)}")


def check_positive(name: str, value: float) -> None:
    _check(math.isfinite(value) and value > 0, name, value, "must be a finite number > 0")


def check_at_least(name: str, value: float, minimum: float) -> None:
    _check(math.isfinite(value) and value >= minimum, name, value, f"must be >= {minimum}")


def check_fraction(name: str, value: float) -> None:
    _check(0 <= value < 1, name, value, "must be in [0, 1)")


def _coerce(name: str, value: Any, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        (inner,) = [o for o in options if o is not type(None)]
        return _coerce(name, value, inner)
    if origin is tuple:
        item = typing.get_args(hint)[0]
        if isinstance(value, str) or not isinstance(value, list | tuple):
            raise TrainingConfigError(f"{name} must be a list, got {value!r}")
        return tuple(_coerce(f"{name}[{i}]", v, item) for i, v in enumerate(value))
    # bool is an int subclass in Python; `epochs=True` is a mistake, not 1.
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif hint is str:
        if isinstance(value, str):
            return value
    else:  # pragma: no cover - a config declared a type this parser does not know
        raise TypeError(f"unsupported config field type {hint!r} for {name}")
    raise TrainingConfigError(f"{name} must be {getattr(hint, '__name__', hint)}, got {value!r}")
