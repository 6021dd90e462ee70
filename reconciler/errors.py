"""One exception tree for the whole tool; the CLI maps each branch to an exit code.

    ReconcilerError                 exit 1 unless a subclass says otherwise
     ├── ConfigError                invalid clinic files (carries every diagnostic)
     ├── UsageError                 bad command-line use
     ├── ClinicInputError           one clinic's declared value cannot work (that clinic's error)
     ├── SecretError                a secret reference that cannot be resolved
     │    └── SecretValueError      its value is unusable (empty, invisible characters, ...)
     ├── PlanFileError              a saved plan that cannot be read
     ├── AdapterError               exit 3: an EMR could not be read or written
     │    ├── EMRConnectionError    the EMR could not be reached
     │    └── ConflictError         live state conflicts with the desired state
     ├── AuditLogError              exit 3: the audit log could not be written mid-run
     └── RefusedError               exit 4: refused for safety
          ├── StalePlanError        live or desired state moved since the plan
          └── UnsafeChangeError     a change removes access and no --allow names its rule

Third-party exceptions are translated where they enter (``raise X(...) from exc``), their
text summarised rather than echoed; what must be passed on goes through
:func:`reconciler.secrets.redact` first. The message of a ``ReconcilerError`` is the tool's
own, built from names and references only, and is printed exactly as built.
"""

from __future__ import annotations

import traceback
from pathlib import PurePath
from typing import TYPE_CHECKING

from reconciler.exitcodes import ExitCode

if TYPE_CHECKING:
    from reconciler.diagnostics import Diagnostic


class ReconcilerError(Exception):
    """Base of every error the tool raises on purpose."""

    exit_code: ExitCode = ExitCode.INVALID


class ConfigError(ReconcilerError):
    """One or more clinic files are invalid; ``diagnostics`` lists every problem."""

    def __init__(self, diagnostics: list[Diagnostic], files: int | None = None) -> None:
        self.diagnostics = diagnostics
        self.files = files if files is not None else len({d.file for d in diagnostics})
        """How many files were checked (not only those with problems)."""
        errors = [d for d in diagnostics if d.is_error]
        first = errors[0].format() if errors else "invalid configuration"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(first + more)


class UsageError(ReconcilerError):
    """The command line asks for something that cannot be done."""


class ClinicInputError(ReconcilerError):
    """A clinic's declared value cannot work as it stands (a date that has come), found while
    planning: that clinic's error, the others still planned."""


class SecretError(ReconcilerError):
    """A ``{env: ...}`` or ``{file: ...}`` reference could not be resolved."""


class SecretValueError(SecretError):
    """A secret was read, but its value is unusable (empty, not UTF-8, invisible characters)."""


class PlanFileError(ReconcilerError):
    """A saved plan file is missing, malformed or of an unknown format."""


class AdapterError(ReconcilerError):
    """An EMR adapter failed to read or write live state."""

    exit_code = ExitCode.EMR_FAILED


class EMRConnectionError(AdapterError):
    """The EMR (database or API) could not be reached or refused the credentials."""


class ConflictError(AdapterError):
    """Live state conflicts with the desired state in a way the tool must not resolve."""


class AuditLogError(ReconcilerError):
    """The audit log could not be written after apply had started; apply stops there."""

    exit_code = ExitCode.EMR_FAILED


class RefusedError(ReconcilerError):
    """The tool refused to act because acting could be unsafe."""

    exit_code = ExitCode.REFUSED


class StalePlanError(RefusedError):
    """A saved plan no longer matches live or desired state."""


class UnsafeChangeError(RefusedError):
    """A change removes access and the rule that allows it was not given with --allow."""


def _short(filename: str) -> str:
    parts = PurePath(filename).parts
    for anchor in ("site-packages", "dist-packages"):
        if anchor in parts:
            return "/".join(parts[len(parts) - parts[::-1].index(anchor) :])
    if "reconciler" in parts:
        return "/".join(parts[len(parts) - 1 - parts[::-1].index("reconciler") :])
    return parts[-1] if parts else filename


def describe_unexpected(exc: BaseException) -> str:
    """``ValueError at reconciler/x.py:12``: what an unexpected exception was and where it
    was raised, without its message, which may quote anything it was given (a secret too)."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {_short(frames[-1].filename)}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}{where}"
