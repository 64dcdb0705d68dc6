"""The exceptions of sgpoison: one base class, one for bad input files, one for bad settings,
and :class:`Interrupted` for a long computation stopped by a termination signal.

``sgpoison.cli.main`` is the only place that turns them into exit codes and messages
(docs/cli.md): a :class:`SettingsError` is a usage error (exit 2, naming the option), a
:class:`DataFormatError` a bad input file (exit 1, naming the file), :class:`Interrupted`
exit 128 + the signal number (143 for SIGTERM, 130 for SIGINT, as a shell reports a process
killed by it). The first two derive from ``ValueError``, so callers that only care that a
value was rejected can catch that.
"""

from __future__ import annotations


class SgpoisonError(ValueError):
    """Base class of the errors raised by sgpoison on purpose."""


class DataFormatError(SgpoisonError):
    """A file is not a valid sgpoison file (or not one of the expected kind).

    The message names the file and the problem, e.g.
    ``"run.nc: missing variable 'overlap'"``.
    """


class SettingsError(SgpoisonError):
    """An invalid setting: a parameter, a command-line option or a configuration value.

    Parameters
    ----------
    message : str
        What is wrong and what would be valid, e.g. ``"label_noise must be in [0, 0.5), got 0.7"``.
    option : str, optional
        The command-line option at fault (``"--label-noise"``), when the library knows it
        (e.g. a data file that does not match ``--L``).
    key : str, optional
        The settings field at fault (``"label_noise"``); the command line maps it to the
        option whose ``dest`` it is, the study configuration to its config key.
    """

    def __init__(self, message: str, option: str | None = None, key: str | None = None):
        super().__init__(message)
        self.option = option
        self.key = key


class Interrupted(Exception):
    """A computation stopped early at a termination signal, after saving what it could.

    Parameters
    ----------
    message : str
        What was stopped and what was saved, e.g. "stopped by SIGTERM after 512 of 4096
        thermalization sweeps; state saved to ck.npz: run the same command to resume".
    signum : int
        The signal received (``signal.SIGTERM``, ``signal.SIGINT``).
    """

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.signum = int(signum)

    @property
    def exit_status(self) -> int:
        """128 + the signal number: the status of a process ended by that signal."""
        return 128 + self.signum
