"""Settings whose defaults and limits are written once, in their dataclass.

Every settings dataclass of the package (:class:`sgpoison.mc.parallel_tempering.SimulationParameters`,
:class:`sgpoison.ml.settings.TrainingConfig`, :class:`sgpoison.audit.settings.AuditConfig`,
:class:`sgpoison.fss.settings.AnalysisSettings`, ...) derives from :class:`Settings` and declares
each constrained field with :func:`setting`, which stores the allowed values (a
:class:`Range` or a tuple of choices) in the field's metadata. Constructing an instance
checks every field and raises :class:`~sgpoison.errors.SettingsError` naming it. The
command line takes its defaults and limits from these fields (``sgpoison.cli._common``),
the study configuration check constructs the same dataclasses (:mod:`sgpoison.config`), and
``tests/test_config.py`` checks that the JSON schema of the configuration documents the same
limits.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Sequence

import numpy as np

from sgpoison.errors import SettingsError


#: the largest int64: NetCDF stores integer attributes (seeds, counts) and coordinates (instance
#: indices) as int64, and the compiled kernels take counts as int64
INT64_MAX = 2**63 - 1
#: the largest C int (thread counts of OpenMP and TensorFlow)
INT32_MAX = 2**31 - 1


def _number(value: float) -> str:
    """A bound as written in messages: integers exactly (2^63 - 1 and 2^31 - 1 by name), other
    numbers with ``%g``."""
    if value in (INT64_MAX, INT32_MAX) and isinstance(value, int):
        return f"2^{value.bit_length()} - 1"
    return str(value) if isinstance(value, int) else f"{value:g}"


@dataclasses.dataclass(frozen=True)
class Range:
    """The allowed values of a numeric setting.

    Values must be finite numbers (never NaN or +-inf, never ``bool``); ``integer``
    settings must be ``int`` (a float such as 4.0 is rejected: it would reach a command
    line as "4.0"). ``optional``: ``None`` is allowed too (e.g. "TensorFlow's default").
    The bounds are those of JSON schema: ``minimum <= value <= maximum``,
    ``exclusive_minimum < value < exclusive_maximum``.
    """

    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    exclusive_maximum: float | None = None
    integer: bool = False
    optional: bool = False

    def __contains__(self, value: Any) -> bool:
        if value is None:
            return self.optional
        if isinstance(value, (bool, np.bool_)):
            return False
        if self.integer and not isinstance(value, (int, np.integer)):
            return False
        try:
            x = float(value)
        except (TypeError, ValueError, OverflowError):  # OverflowError: an int beyond any float
            return False
        if isinstance(value, (int, np.integer)):
            x = int(value)  # integers compare exactly (2**63 is not rounded to 2**63 - 1)
        return (math.isfinite(x)
                and (self.minimum is None or x >= self.minimum)
                and (self.maximum is None or x <= self.maximum)
                and (self.exclusive_minimum is None or x > self.exclusive_minimum)
                and (self.exclusive_maximum is None or x < self.exclusive_maximum))

    def describe(self) -> str:
        """The allowed values in words, e.g. ``"an integer >= 10"``, ``"a number in [0, 0.5)"``."""
        kind = "an integer" if self.integer else "a number"
        low = (f"[{_number(self.minimum)}" if self.minimum is not None else
               f"({_number(self.exclusive_minimum)}" if self.exclusive_minimum is not None else None)
        high = (f"{_number(self.maximum)}]" if self.maximum is not None else
                f"{_number(self.exclusive_maximum)})" if self.exclusive_maximum is not None else None)
        if low and high:
            text = f"{kind} in {low}, {high}"
        elif low:
            text = f"{kind} {'>=' if low[0] == '[' else '>'} {low[1:]}"
        elif high:
            text = f"{kind} {'<=' if high[-1] == ']' else '<'} {high[:-1]}"
        else:
            text = "an integer" if self.integer else "a finite number"
        return text + (" (or unset)" if self.optional else "")

    def schema(self) -> dict[str, float]:
        """The bounds as JSON-schema keywords (``minimum``, ``exclusiveMinimum``, ...)."""
        keywords = {"minimum": self.minimum, "maximum": self.maximum,
                    "exclusiveMinimum": self.exclusive_minimum, "exclusiveMaximum": self.exclusive_maximum}
        return {k: v for k, v in keywords.items() if v is not None}


#: seeds (of numpy.random.SeedSequence, and recorded in every output): integers an int64 holds
SEED = Range(minimum=0, maximum=INT64_MAX, integer=True)
#: global indices of disorder instances (the int64 ``instance`` coordinate)
INSTANCE_INDEX = Range(minimum=0, maximum=INT64_MAX, integer=True)
#: thread counts (OpenMP, TensorFlow: a C int)
THREAD_COUNT = Range(minimum=1, maximum=INT32_MAX, integer=True)
#: thread counts; unset = the library's default
THREADS = dataclasses.replace(THREAD_COUNT, optional=True)
#: counts of at least one (sweeps, snapshots, iterations, batch sizes, ...), recorded as int64
COUNT = Range(minimum=1, maximum=INT64_MAX, integer=True)


def setting(default: Any = dataclasses.MISSING, *, limits: Range | None = None,
            choices: Sequence[Any] | None = None, **bounds: Any) -> Any:
    """A dataclass field whose value must lie in ``limits`` (or ``Range(**bounds)``) or ``choices``.

    Example: ``n_bootstrap: int = setting(200, minimum=10, integer=True)``.
    """
    metadata: dict[str, Any] = {}
    if bounds:
        limits = Range(**bounds)
    if limits is not None:
        metadata["range"] = limits
    if choices is not None:
        metadata["choices"] = tuple(choices)
    return dataclasses.field(default=default, metadata=metadata)


class Settings:
    """Base class of the settings dataclasses: checks every field declared with :func:`setting`.

    Subclasses are ``@dataclasses.dataclass(frozen=True)``; a subclass that needs checks
    across fields (e.g. ``t_min < t_max``) defines ``__post_init__`` and calls
    ``super().__post_init__()`` first.
    """

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            self.check_value(f.name, getattr(self, f.name))

    @classmethod
    def _field(cls, name: str) -> dataclasses.Field:
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.name == name:
                return f
        raise KeyError(f"{cls.__name__} has no setting {name!r}")

    @classmethod
    def limits(cls, name: str) -> Range | None:
        """The :class:`Range` of field ``name`` (None if it has none)."""
        return cls._field(name).metadata.get("range")

    @classmethod
    def choices(cls, name: str) -> tuple | None:
        """The allowed values of field ``name`` (None if any value of its type is allowed)."""
        return cls._field(name).metadata.get("choices")

    @classmethod
    def default(cls, name: str) -> Any:
        """The default value of field ``name``."""
        f = cls._field(name)
        if f.default is dataclasses.MISSING:
            raise KeyError(f"{cls.__name__}.{name} has no default")
        return f.default

    @classmethod
    def check_value(cls, name: str, value: Any, option: str | None = None) -> Any:
        """Return ``value`` if field ``name`` allows it.

        Raises
        ------
        SettingsError
            Otherwise, with ``key=name`` and ``option``; the message starts with the
            option (if given) or the field name and says what would be valid.
        """
        what = option or name
        limits = cls.limits(name)
        if limits is not None and value not in limits:
            raise SettingsError(f"{what} must be {limits.describe()}, got {value!r}", option=option, key=name)
        choices = cls.choices(name)
        if choices is not None and value not in choices:
            raise SettingsError(f"unknown {what} {value!r}; expected one of {', '.join(map(str, choices))}",
                                option=option, key=name)
        return value
