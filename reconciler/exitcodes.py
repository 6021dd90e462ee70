"""Exit codes: the same for every command (see ``reconcile --help`` and the README)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    INVALID = 1
    CHANGES = 2
    EMR_FAILED = 3
    REFUSED = 4

    @property
    def meaning(self) -> str:
        return _MEANINGS[self]


_MEANINGS = {
    ExitCode.OK: "success, or nothing to change",
    ExitCode.INVALID: (
        "invalid input or usage (bad clinic file, bad flag, unconfirmed apply), or a "
        "clinic's secret that is missing or unusable (that clinic's error)"
    ),
    ExitCode.CHANGES: "changes pending (plan --detailed-exitcode)",
    ExitCode.EMR_FAILED: (
        "an EMR or adapter failed (unreachable, conflict, not converged, internal error), "
        "or apply stopped because the audit log could not be written"
    ),
    ExitCode.REFUSED: (
        "refused for safety (unsafe change without --allow, a stale plan, or another run "
        "holds the clinic)"
    ),
}

INTERRUPTED_HELP = (
    "130  interrupted by Ctrl-C (SIGINT); 143 by SIGTERM: apply finishes recording the clinics "
    "it was on, starts no further clinic, and says what was written"
)

EXIT_CODE_HELP = "\n".join(
    [*(f"{code.value}  {code.meaning}" for code in ExitCode), INTERRUPTED_HELP]
)
