"""Errors a user can hit. The CLI prints them without a traceback and exits with `exit_code`."""


class ModelportError(Exception):
    """Base class: a message meant for the user (what happened, what is supported, what to do)."""
    exit_code = 2


class UsageError(ModelportError):
    """Bad command-line usage or a bad input file."""


class UnsupportedError(ModelportError):
    """A model class, op or feature that no target supports (yet)."""


class BuildError(ModelportError):
    """A toolchain step failed (compiler missing or failing)."""
    exit_code = 3


class ParityError(ModelportError):
    """Parity does not hold."""
    exit_code = 1
