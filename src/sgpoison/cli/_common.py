"""What the commands share: argument types, option groups, settings from arguments, logging.

Options that set a field of a settings dataclass are declared with :func:`add_setting`,
which takes the default, the choices and the limits shown in ``--help`` from the field
(:mod:`sgpoison.settings`), so a default or a limit is written once. The dataclass checks
the value when the command builds it; :func:`sgpoison.cli.main` turns the
:class:`~sgpoison.errors.SettingsError` into a usage error naming the option
(:func:`option_of`).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
from pathlib import Path
from typing import Any

from sgpoison.settings import Settings


def input_file(text: str) -> Path:
    """Argument type of an input file: it must exist (else a usage error naming it)."""
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text}: no such file")
    return path


def output_file(suffix: str | None = None):
    """Argument type of an output file: not a directory, and ending in ``suffix`` if given."""

    def parse(text: str) -> Path:
        path = Path(text)
        if path.is_dir() or text.endswith(("/", os.sep)):
            raise argparse.ArgumentTypeError(f"{text} is a directory; give a file name")
        if suffix is not None and path.suffix != suffix:
            raise argparse.ArgumentTypeError(f"{text}: the file name must end in {suffix!r}")
        return path

    parse.__name__ = "output file"
    return parse


def add_setting(parser, settings: type[Settings], name: str, *flags: str, help: str,
                required: bool = False, **kwargs: Any) -> argparse.Action:
    """Add the option ``flags`` that sets field ``name`` of the dataclass ``settings``.

    The option's ``dest`` is the field name (so that an error about the field names
    the option), its default the field's default, its choices the field's choices; its
    type is ``int`` or ``float`` after the field's limits, which ``--help`` shows.
    """
    limits, choices = settings.limits(name), settings.choices(name)
    notes = []
    if not required:
        default = settings.default(name)
        kwargs.setdefault("default", default)
        notes.append("default: unset" if default is None else f"default {default}")
    if limits is not None:
        kwargs.setdefault("type", int if limits.integer else float)
        notes.append(limits.describe().replace(" (or unset)", ""))
    if choices is not None:
        kwargs.setdefault("choices", choices)
    text = f"{help} ({'; '.join(notes)})" if notes else help
    return parser.add_argument(*flags, dest=name, required=required, help=text, **kwargs)


def add_switch(parser, settings: type[Settings], name: str, flag: str, help: str) -> argparse.Action:
    """Add ``--flag`` / ``--no-flag`` for the boolean field ``name`` of ``settings`` (its default
    from the field), ``dest`` the field name."""
    default = settings.default(name)
    return parser.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction, default=default,
                               help=f"{help} (default: {'on' if default else 'off'})")


def add_classifier_options(parser) -> None:
    """``--balance-classes --bootstrap-instances`` (``train`` and ``train-null``: both must agree)."""
    from sgpoison.ml.settings import ClassifierSettings

    group = parser.add_argument_group("classifier family (the same for 'sgpoison train' and 'sgpoison train-null')")
    add_switch(group, ClassifierSettings, "balance_classes", "--balance-classes",
               help="weight the loss by class frequency, w_c = n / (2 n_c)")
    add_switch(group, ClassifierSettings, "bootstrap_instances", "--bootstrap-instances",
               help="train on a bootstrap resample of the training instances (seeded per network)")


def add_label_options(parser) -> None:
    """``--t-label --label-noise --seed --validation-fraction`` (``train`` and ``audit``)."""
    from sgpoison.ml.settings import LabelSettings

    group = parser.add_argument_group("labels (the same for 'sgpoison train' and 'sgpoison audit')")
    add_setting(group, LabelSettings, "t_label", "--t-label", help="label 1 iff T > t_label")
    add_setting(group, LabelSettings, "label_noise", "--label-noise",
                help="probability rho of flipping each training label")
    add_setting(group, LabelSettings, "seed", "--seed",
                help="root seed of the training's random streams (label noise, split, shuffling, weights)")
    add_setting(group, LabelSettings, "validation_fraction", "--validation-fraction",
                help="fraction of disorder instances held out for validation (their labels stay clean)")


def add_bootstrap_options(parser) -> None:
    """``--n-bootstrap --seed`` (``analyze`` and ``conventional``)."""
    from sgpoison.fss.settings import BootstrapSettings

    add_setting(parser, BootstrapSettings, "n_bootstrap", "--n-bootstrap", metavar="N",
                help="bootstrap resamples of the disorder instances")
    add_setting(parser, BootstrapSettings, "seed", "--seed", help="seed of the bootstrap")


def settings_from(settings: type[Settings], args: argparse.Namespace, **values: Any) -> Any:
    """An instance of ``settings`` from the arguments named like its fields, plus ``values``.

    Raises
    ------
    SettingsError
        From the dataclass, naming the field (which :func:`option_of` maps to the option).
    """
    names = {f.name for f in dataclasses.fields(settings)}
    given = {k: v for k, v in vars(args).items() if k in names}
    return settings(**(given | values))


def option_of(parser: argparse.ArgumentParser, key: str | None) -> str | None:
    """The option of ``parser`` whose ``dest`` is ``key`` (its longest spelling), if any."""
    for action in parser._actions:
        if key is not None and action.dest == key and action.option_strings:
            return max(action.option_strings, key=len)
    return None


def start_logging(tensorflow_log_level: str = "1") -> None:
    """INFO logging with timestamps for long commands; quieter TensorFlow C++ logs.

    ``TF_CPP_MIN_LOG_LEVEL`` is only set if unset (never touch ``TF_ENABLE_ONEDNN_OPTS``:
    without oneDNN, Conv3D is ~50x slower on CPU).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", tensorflow_log_level)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s: %(message)s")
