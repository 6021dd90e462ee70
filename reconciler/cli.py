"""The command line: parse, call one core function, map errors to exit codes. Nothing else."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from reconciler import __version__
from reconciler.audit import DEFAULT_AUDIT_LOG, AuditLog, config_commit
from reconciler.config import DEFAULT_PATH, load_clinics
from reconciler.diagnostics import Diagnostic
from reconciler.emr.contract import Outcome
from reconciler.emr.registry import AdapterPool
from reconciler.engine import ClinicOutcome, apply_plan, check_safety, check_saved_plan, make_plan
from reconciler.errors import ConfigError, ReconcilerError, UsageError
from reconciler.exitcodes import EXIT_CODE_HELP, ExitCode
from reconciler.model import Clinic
from reconciler.plan import SafetyRule
from reconciler.planfile import read_plan, write_plan
from reconciler.render import RENDERERS, render_text
from reconciler.render.common import step_lines
from reconciler.secrets import redact

EPILOG = "\b\nExit codes (the same for every command):\n" + EXIT_CODE_HELP


def _echo_error(message: str) -> None:
    click.echo(f"error: {redact(message)}", err=True)


def _print_diagnostics(result_diagnostics: Sequence[Diagnostic], files: int) -> None:
    for diag in result_diagnostics:
        click.echo(redact(diag.format()))
    errors = sum(1 for d in result_diagnostics if d.is_error)
    warnings = len(result_diagnostics) - errors
    click.echo(
        f"{files} file{'s' if files != 1 else ''} checked: "
        f"{errors} error{'s' if errors != 1 else ''}, "
        f"{warnings} warning{'s' if warnings != 1 else ''}"
    )


class ReconcileGroup(click.Group):
    """Owns the exit code: ReconcilerError -> its code, click usage errors -> 1 (not 2)."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        debug = "--debug" in (args if args is not None else sys.argv[1:])
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(ExitCode.INVALID)
        except click.ClickException as exc:
            exc.show()
            sys.exit(ExitCode.INVALID)
        except ConfigError as exc:
            if debug:
                raise
            _print_diagnostics(exc.diagnostics, len({d.file for d in exc.diagnostics}))
            sys.exit(exc.exit_code)
        except ReconcilerError as exc:
            if debug:
                raise
            _echo_error(str(exc))
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)
        except Exception as exc:
            if debug:
                raise
            _echo_error(
                f"internal error ({type(exc).__name__}: {exc}); re-run with --debug for the "
                "traceback and report it"
            )
            sys.exit(ExitCode.EMR_FAILED)
        sys.exit(int(rv) if isinstance(rv, int) else ExitCode.OK)


paths_argument = click.argument("paths", nargs=-1, type=click.Path(path_type=Path, exists=False))


@click.group(
    cls=ReconcileGroup, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(__version__, prog_name="reconcile")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
def cli(debug: bool) -> None:
    """Reconcile the EMR side of Ocean integrations with clinic files in Git.

    PATH is a clinic file or a folder of them (default: clinics/).
    """


@cli.command(epilog=EPILOG)
@paths_argument
def validate(paths: tuple[Path, ...]) -> int:
    """Check clinic files: schema and meaning, every problem in one run."""
    result = load_clinics(paths)
    _print_diagnostics(result.diagnostics, len(result.files))
    return ExitCode.INVALID if result.errors else ExitCode.OK


clinic_option = click.option(
    "--clinic",
    "clinic_ids",
    multiple=True,
    metavar="ID",
    help="Only this clinic (repeatable). Default: every clinic under PATH.",
)


def _load(paths: tuple[Path, ...], clinic_ids: tuple[str, ...]) -> list[Clinic]:
    """Load and check clinic files; any error stops here (exit 1), warnings go to stderr."""
    result = load_clinics(paths)
    for warning in result.warnings:
        click.echo(redact(warning.format()), err=True)
    result.raise_for_errors()
    return result.select(clinic_ids)


def _commit(paths: tuple[Path, ...]) -> str | None:
    return config_commit(paths[0] if paths else DEFAULT_PATH)


@cli.command(epilog=EPILOG)
@paths_argument
@clinic_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(RENDERERS)),
    default="text",
    show_default=True,
    help="text for a terminal, markdown for a pull-request comment, json for machines.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also save the plan (JSON, no secrets) for `reconcile apply --plan FILE`.",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 2 when there are changes (0 when there are none).",
)
def plan(
    paths: tuple[Path, ...],
    clinic_ids: tuple[str, ...],
    fmt: str,
    out: Path | None,
    detailed_exitcode: bool,
) -> int:
    """Show how live EMR state differs from the clinic files."""
    clinics = _load(paths, clinic_ids)
    with AdapterPool() as pool:
        result = make_plan(clinics, pool.for_clinic, _commit(paths))
    click.echo(RENDERERS[fmt](result), nl=False)
    if out is not None:
        write_plan(result, out)
        click.echo(f"Saved plan {result.plan_id} to {out}", err=True)
    if result.has_errors:
        return ExitCode.EMR_FAILED
    return ExitCode.CHANGES if detailed_exitcode and result.has_changes else ExitCode.OK


def _is_interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def _print_outcome(outcome: ClinicOutcome) -> None:
    click.echo(f"{outcome.clinic_id}:")
    for result in outcome.results:
        click.echo(f"  {result.outcome.value:<13} {result.change.address}")
        if result.outcome is Outcome.MANUAL:
            click.echo("\n".join(f"                {line}" for line in step_lines(result.change)))
    if outcome.error:
        click.echo(f"  error: {redact(outcome.error)}")
    elif any(r.outcome is Outcome.APPLIED for r in outcome.results):
        click.echo("  verified: live state matches the clinic file")
    if any(r.outcome is Outcome.MANUAL for r in outcome.results):
        click.echo("  the manual steps above are for a person; plan again once they are done")


@cli.command(epilog=EPILOG)
@paths_argument
@clinic_option
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Apply exactly this saved plan (from `plan --out`); refused if anything moved since.",
)
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--allow",
    "allow",
    multiple=True,
    type=click.Choice([r.value for r in SafetyRule]),
    help="Allow changes that remove access under this rule (repeatable).",
)
@click.option(
    "--audit-log",
    type=click.Path(path_type=Path, dir_okay=False),
    default=DEFAULT_AUDIT_LOG,
    envvar="RECONCILER_AUDIT_LOG",
    show_default=True,
    help="Where to append the audit log.",
)
def apply(
    paths: tuple[Path, ...],
    clinic_ids: tuple[str, ...],
    plan_file: Path | None,
    auto_approve: bool,
    allow: tuple[str, ...],
    audit_log: Path,
) -> int:
    """Make live EMR state match the clinic files, then verify it converged."""
    rules = [SafetyRule(r) for r in allow]
    clinics = _load(paths, clinic_ids)
    commit = _commit(paths)
    with AdapterPool() as pool:
        if plan_file is not None:
            saved = read_plan(plan_file)
            wanted = [c for c in saved.clinics if not clinic_ids or c.id in clinic_ids]
            saved = replace(saved, clinics=tuple(wanted))
            ids = set(saved.clinic_ids)
            fresh = make_plan([c for c in clinics if c.id in ids], pool.for_clinic, commit)
            result = check_saved_plan(saved, fresh)
            click.echo(f"Applying saved plan {saved.plan_id}.")
        else:
            result = make_plan(clinics, pool.for_clinic, commit)
            click.echo(render_text(result), nl=False)
        if not result.has_changes:
            click.echo("Nothing to apply.")
            return ExitCode.EMR_FAILED if result.has_errors else ExitCode.OK
        check_safety(result, rules)
        if plan_file is None and not auto_approve:
            if not _is_interactive():
                raise UsageError(
                    "refusing to apply without confirmation: no terminal to ask on. Review the "
                    "plan, then pass --auto-approve, or apply a saved plan with --plan FILE"
                )
            click.confirm("Apply these changes?", abort=True)
        audit = AuditLog(audit_log, commit)
        audit.check_writable()
        report = apply_plan(result, pool.for_clinic, rules, audit, _print_outcome)
    ok = sum(o.ok for o in report.outcomes)
    click.echo(f"Apply: {ok} of {len(report.outcomes)} clinics done.")
    return max(report.exit_code, ExitCode.EMR_FAILED if result.has_errors else ExitCode.OK)


def main() -> None:
    cli(prog_name="reconcile")
