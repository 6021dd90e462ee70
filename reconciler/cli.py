"""The command line: parse, call one core function, map errors to exit codes. Nothing else."""

from __future__ import annotations

import functools
import logging
import math
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click

from reconciler import __version__
from reconciler.audit import DEFAULT_AUDIT_LOG, AuditLog, config_commit, git_user_name
from reconciler.combine import RENDERERS as SHOW_RENDERERS
from reconciler.combine import save, show_plans
from reconciler.config import DEFAULT_PATH, LoadResult, load_clinics
from reconciler.diagnostics import Diagnostic, Severity
from reconciler.emr.registry import AdapterPool, site_of
from reconciler.engine import (
    ApplyReport,
    ClinicOutcome,
    Result,
    apply_plan,
    check_safety,
    check_saved_plan,
    make_plan,
)
from reconciler.errors import (
    ConfigError,
    PlanFileError,
    ReconcilerError,
    UsageError,
    describe_unexpected,
)
from reconciler.exitcodes import EXIT_CODE_HELP, ExitCode
from reconciler.fleet import Limits, Network, Shard, Site, SiteKind
from reconciler.interrupt import as_interrupted, handling_interrupts
from reconciler.invisible import visible
from reconciler.model import Clinic, Confirmation, Confirmations
from reconciler.plan import ClinicPlan, Plan, SafetyRule
from reconciler.planfile import check_out_path, read_plan, write_plan
from reconciler.progress import ProgressDisplay
from reconciler.render import RENDERERS, render_text
from reconciler.render.checklist import (
    DEFAULT_CHECKLIST_DIR,
    checklist_path,
    confirmable,
    render_checklist,
)
from reconciler.render.common import field_lines, headline, step_lines
from reconciler.secrets import redact_all
from reconciler.state import (
    DEFAULT_STATE_DIR,
    attach_state,
    orphan_state_files,
    read_state,
    state_path,
    write_state,
)
from reconciler.state import now as state_now

EPILOG = "\b\nExit codes (the same for every command):\n" + EXIT_CODE_HELP


def _out(text: str, *, err: bool = False, nl: bool = True) -> None:
    """Everything the tool prints: invisible characters (an ESC from a database value, a
    zero-width space) are shown escaped, never sent raw to the terminal."""
    click.echo(visible(text), err=err, nl=nl)


def _echo_error(message: str) -> None:
    _out(f"error: {message}", err=True)


def _print_diagnostics(result_diagnostics: Sequence[Diagnostic], files: int) -> None:
    for diag in result_diagnostics:
        _out(diag.format())
    errors = sum(1 for d in result_diagnostics if d.is_error)
    warnings = len(result_diagnostics) - errors
    _out(
        f"{files} file{'s' if files != 1 else ''} checked: "
        f"{errors} error{'s' if errors != 1 else ''}, "
        f"{warnings} warning{'s' if warnings != 1 else ''}"
    )


class _Scrubbed(logging.Formatter):
    """Debug output holds foreign text (exception messages): every known secret is masked."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_all(super().format(record))


@contextmanager
def _debug_log(debug: bool) -> Iterator[None]:
    """With --debug, the tracebacks of failures the engine turned into one-line errors."""
    if not debug:
        yield
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Scrubbed("debug: %(message)s"))
    logger = logging.getLogger("reconciler")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _traceback(exc: BaseException) -> None:
    _out(redact_all("".join(traceback.format_exception(exc))).rstrip("\n"), err=True)


def _debug_first(args: list[str]) -> list[str]:
    """``--debug`` anywhere before ``--`` (``reconcile plan --debug``) counts as given first."""
    end = args.index("--") if "--" in args else len(args)
    if "--debug" not in args[:end]:
        return args
    return ["--debug", *(a for a in args[:end] if a != "--debug"), *args[end:]]


class ReconcileGroup(click.Group):
    """Owns the exit code: ReconcilerError -> its code, click usage errors -> 1 (not 2).

    ``--debug`` adds tracebacks (secrets masked) on stderr and changes nothing else: the
    same messages, the same exit codes.
    """

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        args = _debug_first(list(args) if args is not None else sys.argv[1:])
        debug = bool(args) and args[0] == "--debug"
        try:
            with _debug_log(debug):
                rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.Abort as exc:
            if isinstance(exc.__cause__, KeyboardInterrupt):  # Ctrl-C, which click turns
                click.echo("Interrupted.", err=True)  # into Abort
                sys.exit(as_interrupted(exc.__cause__).exit_code)
            click.echo("Aborted.", err=True)
            sys.exit(ExitCode.INVALID)
        except click.ClickException as exc:
            exc.show()
            sys.exit(ExitCode.INVALID)
        except ConfigError as exc:
            if debug:
                _traceback(exc)
            _print_diagnostics(exc.diagnostics, exc.files)
            sys.exit(exc.exit_code)
        except ReconcilerError as exc:
            if debug:
                _traceback(exc)
            _echo_error(str(exc))
            sys.exit(exc.exit_code)
        except KeyboardInterrupt as exc:
            click.echo("Interrupted.", err=True)
            sys.exit(as_interrupted(exc).exit_code)
        except Exception as exc:
            if debug:
                _traceback(exc)
            _echo_error(
                f"internal error ({describe_unexpected(exc)}); re-run with --debug for the "
                "traceback and report it"
            )
            sys.exit(ExitCode.EMR_FAILED)
        sys.exit(int(rv) if isinstance(rv, int) else ExitCode.OK)


paths_argument = click.argument("paths", nargs=-1, type=click.Path(path_type=Path, exists=False))


@click.group(
    cls=ReconcileGroup, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(__version__, prog_name="reconcile")
@click.option(
    "--debug", is_flag=True, help="Also show tracebacks (secrets masked); exit codes are the same."
)
def cli(debug: bool) -> None:
    """Reconcile the EMR side of Ocean integrations with clinic files in Git.

    PATH is a clinic file or a folder of them (default: clinics/).
    """


state_dir_option = click.option(
    "--state-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=DEFAULT_STATE_DIR,
    envvar="RECONCILER_STATE_DIR",
    show_default=True,
    help="Where `reconcile confirm` keeps what people did by hand (state/<clinic id>.yaml).",
)


def _with_state(result: LoadResult, state_dir: Path, *, orphans: bool = False) -> LoadResult:
    """Each clinic with its confirmations; a state file's problems join the diagnostics."""
    result.clinics, problems = attach_state(result.clinics, state_dir)
    result.diagnostics += problems
    if orphans and not result.errors:
        for path in orphan_state_files(state_dir, [c.id for c in result.clinics]):
            result.diagnostics.append(
                Diagnostic(
                    str(path),
                    1,
                    1,
                    "(document)",
                    "no clinic file given has this id; the state file is not used",
                    severity=Severity.WARNING,
                )
            )
    return result


@cli.command(epilog=EPILOG)
@paths_argument
@state_dir_option
def validate(paths: tuple[Path, ...], state_dir: Path) -> int:
    """Check clinic files and their state files: schema and meaning, every problem in one
    run."""
    result = _with_state(load_clinics(paths), state_dir, orphans=not paths)
    _print_diagnostics(result.diagnostics, len(result.files))
    return ExitCode.INVALID if result.errors else ExitCode.OK


clinic_option = click.option(
    "--clinic",
    "clinic_ids",
    multiple=True,
    metavar="ID",
    help="Only this clinic (repeatable). Default: every clinic under PATH.",
)


@dataclass(frozen=True, slots=True)
class _Fleet:
    """The fleet options of plan and apply, as given."""

    limits: Limits
    network: Network
    shard: Shard | None
    progress: bool | None  # None: when stderr is a terminal and this is not CI

    def select(self, loaded: LoadResult, clinic_ids: Sequence[str]) -> list[Clinic]:
        clinics = loaded.select(clinic_ids)
        if self.shard is not None:
            clinics = [c for c in clinics if self.shard.picks(c.id)]
            _out(
                f"Shard {self.shard}: {len(clinics)} clinic(s) of {len(loaded.clinics)}.", err=True
            )
            if not clinics:
                _out(f"warning: shard {self.shard} holds no clinic", err=True)
        return clinics

    def watch(self, total: int, verb: str, *, quiet: bool = False) -> ProgressDisplay:
        """A live count on stderr while ``verb`` runs over ``total`` clinics."""
        enabled = False if quiet and self.progress is None else self.progress
        return ProgressDisplay(total, verb, enabled=enabled)


def _positive(
    kind: type[int] | type[float], most: float = 1_000_000
) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A number above 0 and at most ``most`` (``inf`` and ``nan`` are not numbers here)."""

    def check(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is None:
            return value
        if not math.isfinite(value) or value <= 0:
            raise click.BadParameter(f"must be a number greater than 0, not {value}")
        if value > most:
            raise click.BadParameter(f"must be at most {most:g}, not {value:g}")
        return value

    return check


def fleet_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--parallelism, --per-host, --per-database, --connect-timeout, --read-timeout,
    --attempts, --shard and --progress/--no-progress, handed to the command as ``fleet``."""
    defaults, network = Limits(), Network()
    numbers = [  # flag, type, default, most, help; each also read from RECONCILER_<FLAG>
        ("parallelism", int, defaults.parallelism, 1024, "Clinics read or applied at once, "
         "in all; 1 runs them one after another."),
        ("per-host", int, defaults.per_host, 1024, "Clinics at once on one API host: they "
         "share its connections and its rate limit."),
        ("per-database", int, defaults.per_database, 1024, "Clinics at once on one database "
         "server: connections to it."),
        ("connect-timeout", float, network.connect_timeout, 3600, "Seconds to wait for a "
         "connection to an EMR."),
        ("read-timeout", float, network.read_timeout, 3600, "Seconds to wait for an EMR's "
         "answer."),
        ("attempts", int, network.attempts, 20, "Tries per request in all, for reads and "
         "writes safe to repeat, with backoff and jitter between them; a 429's Retry-After "
         "is honoured."),
    ]  # fmt: skip
    options = [
        click.option(
            f"--{flag}",
            type=kind,
            default=default,
            envvar=f"RECONCILER_{flag.replace('-', '_').upper()}",
            show_default=True,
            callback=_positive(kind, most),
            help=f"{text[:-1]} (at most {most}).",
        )
        for flag, kind, default, most, text in numbers
    ] + [
        click.option(
            "--shard",
            metavar="I/N",
            envvar="RECONCILER_SHARD",
            help="Only the I-th of N stable slices of the clinics (by id), for N CI runners.",
        ),
        click.option(
            "--progress/--no-progress",
            default=None,
            help="Show clinics done, failing and remaining on stderr (default: when stderr "
            "is a terminal and this is not CI).",
        ),
    ]

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> Any:
        shard_text = kwargs.pop("shard")
        try:
            shard = Shard.parse(shard_text) if shard_text is not None else None
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="'--shard'") from None
        limits = Limits(
            kwargs.pop("parallelism"), kwargs.pop("per_host"), kwargs.pop("per_database")
        )
        kwargs["fleet"] = _Fleet(
            limits,
            Network(
                kwargs.pop("connect_timeout"),
                kwargs.pop("read_timeout"),
                kwargs.pop("attempts"),
                limits.for_site(Site(SiteKind.HOST)),
                limits.for_site(Site(SiteKind.DATABASE)),
            ),
            shard,
            kwargs.pop("progress"),
        )
        return command(**kwargs)

    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


def _load(paths: tuple[Path, ...], state_dir: Path) -> LoadResult:
    """Load and check clinic files and their state files; any error stops here (exit 1),
    warnings go to stderr.

    Secret values are not read here: an unusable one is that clinic's error at plan."""
    result = _with_state(load_clinics(paths, here_and_now=False), state_dir)
    for warning in result.warnings:
        _out(warning.format(), err=True)
    result.raise_for_errors()
    return result


def _make_plan(
    fleet: _Fleet,
    pool: AdapterPool,
    clinics: Sequence[Clinic],
    commit: str | None,
    *,
    quiet: bool = False,
) -> Plan:
    with fleet.watch(len(clinics), "planning", quiet=quiet) as progress:
        return make_plan(
            clinics,
            pool.for_clinic,
            commit,
            limits=fleet.limits,
            sites=site_of,
            progress=progress,
        )


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
@state_dir_option
@fleet_options
def plan(
    paths: tuple[Path, ...],
    clinic_ids: tuple[str, ...],
    fmt: str,
    out: Path | None,
    detailed_exitcode: bool,
    state_dir: Path,
    fleet: _Fleet,
) -> int:
    """Show how live EMR state differs from the clinic files."""
    loaded = _load(paths, state_dir)
    if out is not None:
        check_out_path(out, loaded.files)
    clinics = fleet.select(loaded, clinic_ids)
    with AdapterPool(fleet.network) as pool:
        result = _make_plan(fleet, pool, clinics, _commit(paths), quiet=fmt == "json")
    if fleet.shard is not None:  # saved with the plan: combining shards tells one missing
        result = replace(result, shard=fleet.shard)
    _out(RENDERERS[fmt](result), nl=False)
    code = result.error_exit if result.has_errors else ExitCode.OK
    if out is not None:
        try:
            write_plan(result, out)
        except PlanFileError as exc:  # the highest code wins: a clinic's 3 over this 1
            _echo_error(str(exc))
            return max(code, exc.exit_code)
        _out(f"Saved plan {result.plan_id} to {out}", err=True)
    if result.has_errors:
        return code
    return ExitCode.CHANGES if detailed_exitcode and result.has_changes else ExitCode.OK


@cli.command(epilog=EPILOG)
@click.argument(
    "plan_files",
    metavar="PLAN_FILE...",
    nargs=-1,
    required=True,
    type=click.Path(path_type=Path, exists=False),
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(SHOW_RENDERERS)),
    default="text",
    show_default=True,
    help="text for a terminal, markdown for a pull-request comment, json for machines.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also save the plan shown (combined, when several) for `reconcile show` and "
    "`reconcile apply --plan FILE`.",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 2 when there are changes (0 when there are none).",
)
def show(plan_files: tuple[Path, ...], fmt: str, out: Path | None, detailed_exitcode: bool) -> int:
    """Show saved plans (`plan --out FILE`) as one plan, reading no clinic file and no EMR.

    One plan file prints exactly as `plan` printed it. Several, such as the shards of a
    fleet planned by N CI runners (`plan --shard I/N --out plan-I.json`), print as one plan:
    one Markdown comment, one summary, the clinics in the order of their files, and a plan
    id derived from the plan ids of the parts. Each file is checked as `apply --plan` checks
    it (schema, plan id, digest); a clinic in two of the files, or files of different format
    versions or of different commits of the clinic files, are refused (exit 1).

    `apply --plan FILE` takes a combined plan saved with --out as it takes any saved plan:
    every clinic in it is planned again and checked against it, and nothing is applied if
    any moved. (Each runner may instead apply its own shard: `apply --shard I/N --plan
    plan-I.json`.) Exit codes as for `plan`: 3 when any part holds a clinic that could not
    be planned, 2 with --detailed-exitcode when there are changes."""
    if out is not None:
        check_out_path(out, plan_files, kind="plan file")
    result = show_plans(plan_files)
    _out(SHOW_RENDERERS[fmt](result), nl=False)
    code = ExitCode.EMR_FAILED if result.has_errors else ExitCode.OK
    if out is not None:
        try:
            save(result, out)
        except PlanFileError as exc:  # the highest code wins: a clinic's 3 over this 1
            _echo_error(str(exc))
            return max(code, exc.exit_code)
        _out(f"Saved plan {result.plan_id} to {out}", err=True)
    if result.has_errors:
        return code
    return ExitCode.CHANGES if detailed_exitcode and result.has_changes else ExitCode.OK


@cli.command(epilog=EPILOG)
@paths_argument
@clinic_option
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="The folder to write: index.html and clinics/<id>.html. It is replaced whole once "
    "the new report is written; a folder that is not a report is never replaced.",
)
@click.option(
    "--plan",
    "plan_files",
    multiple=True,
    metavar="FILE",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Render saved plans (`plan --out`; the shards of a fleet, repeated) instead of "
    "reading the EMRs.",
)
@click.option(
    "--audit-log",
    type=click.Path(path_type=Path, dir_okay=False),
    default=DEFAULT_AUDIT_LOG,
    envvar="RECONCILER_AUDIT_LOG",
    show_default=True,
    help="apply's audit log, read for each clinic's last apply.",
)
@state_dir_option
@fleet_options
def report(
    paths: tuple[Path, ...],
    clinic_ids: tuple[str, ...],
    out: Path,
    plan_files: tuple[Path, ...],
    audit_log: Path,
    state_dir: Path,
    fleet: _Fleet,
) -> int:
    """Write the fleet as a static HTML report: an overview, and one page per clinic.

    Reads live state exactly as `plan` does (or, with --plan, renders saved plans without
    reading any EMR). The pages are self-contained (inline CSS, no font or script fetched)
    and open from the file system. Exit codes as for `plan`: 3 when a clinic could not be
    read (the report is still written, with that clinic as an error)."""
    from reconciler.report import build_report, check_out_dir, last_applies, write_report
    from reconciler.report.model import STATUS_WORDS

    check_out_dir(out)
    if plan_files:
        if paths:
            raise UsageError(
                "give clinic files (to read the EMRs) or --plan FILE (saved plans), not both; "
                "for several saved plans, repeat --plan: --plan a.json --plan b.json"
            )
        result = show_plans(plan_files)
        ids = [cp.clinic.id for cp in result.clinics]
        absent = [cid for cid in clinic_ids if cid not in ids]
        if absent:
            raise UsageError(f"--clinic {', '.join(absent)}: not in the saved plan(s) given")
        kept = tuple(
            cp
            for cp in result.clinics
            if (not clinic_ids or cp.clinic.id in clinic_ids)
            and (fleet.shard is None or fleet.shard.picks(cp.clinic.id))
        )
        if len(kept) != len(result.clinics):
            result = Plan(kept, config_commit=result.config_commit)
        names = ", ".join(str(p) for p in plan_files[:3]) + (" ..." if len(plan_files) > 3 else "")
        source = f"the saved plan{'s' if len(plan_files) > 1 else ''} {names}"
        code = ExitCode.EMR_FAILED if result.has_errors else ExitCode.OK
    else:
        loaded = _load(paths, state_dir)
        clinics = fleet.select(loaded, clinic_ids)
        with AdapterPool(fleet.network) as pool:
            result = _make_plan(fleet, pool, clinics, _commit(paths))
        source = f"live reads of {len(clinics)} clinic file{'s' if len(clinics) != 1 else ''}"
        code = result.error_exit if result.has_errors else ExitCode.OK
    applies, problem = last_applies(audit_log)
    if problem is not None:
        _out(f"warning: {problem}; the report shows no last apply", err=True)
    made = build_report(result, source=source, applies=applies)
    try:
        write_report(made.files(), out)
    except ReconcilerError as exc:  # the highest code wins: a clinic's 3 over this 1
        _echo_error(str(exc))
        return max(code, exc.exit_code)
    totals = made.overview.totals
    counts = ", ".join(f"{n} {STATUS_WORDS[s]}" for s, n in totals.by_status.items() if n)
    _out(f"Report of {totals.clinics} clinic(s) ({counts or 'none'}) written to {out}/")
    _out(f"Open {(out / 'index.html').absolute().as_uri()}")
    return code


def _is_interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def _print_outcome(outcome: ClinicOutcome) -> None:
    _out(f"{outcome.clinic_id}:")
    for result in outcome.results:
        line = f"  {result.outcome.value:<13} {result.change.address}"
        if result.outcome not in (Result.APPLIED, Result.MANUAL) and result.verified:
            line += f"  (live state re-read: {result.verified.value})"
        _out(line)
        if result.outcome is Result.MANUAL:
            _out("\n".join(f"                {line}" for line in step_lines(result.change)))
    if outcome.error:
        _out(f"  error: {outcome.error}")
    elif any(r.outcome is Result.APPLIED for r in outcome.results):
        _out("  verified: live state matches the clinic file")
    if any(r.outcome is Result.MANUAL for r in outcome.results):
        _out("  the manual steps above are for a person; plan again once they are done")


def _print_stop(report: ApplyReport) -> None:
    """Apply stopped part-way: say exactly what was written to the EMR before it did."""
    _echo_error(f"{report.stopped}; apply stopped there: no further clinic was started")
    written, cut_short = report.written(), report.cut_short()
    if not written and not cut_short:
        _out("Nothing was written to any EMR in this run.")
        return
    if written:
        _out("Written to the EMR in this run:")
    for clinic_id, r in written:
        verified = r.verified.value if r.verified else "not verified"
        _out(f"  {clinic_id}  {r.change.address}  ({r.outcome.value}; live state: {verified})")
    if cut_short:
        _out("Interrupted while being written (rolled back unless already committed):")
    for clinic_id, r in cut_short:
        _out(f"  {clinic_id}  {r.change.address}  (plan again to see)")


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
@click.option(
    "--checklist-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=DEFAULT_CHECKLIST_DIR,
    envvar="RECONCILER_CHECKLIST_DIR",
    show_default=True,
    help="Where to write each clinic's checklist of manual steps (<clinic id>.md).",
)
@state_dir_option
@fleet_options
def apply(
    paths: tuple[Path, ...],
    clinic_ids: tuple[str, ...],
    plan_file: Path | None,
    auto_approve: bool,
    allow: tuple[str, ...],
    audit_log: Path,
    checklist_dir: Path,
    state_dir: Path,
    fleet: _Fleet,
) -> int:
    """Make live EMR state match the clinic files, then verify it converged.

    Changes only a person can make are printed and written as a Markdown checklist per
    clinic; record them afterwards with `reconcile confirm`."""
    rules = [SafetyRule(r) for r in allow]
    loaded = _load(paths, state_dir)
    clinics = fleet.select(loaded, clinic_ids)
    commit = _commit(paths)
    with AdapterPool(fleet.network) as pool:
        if plan_file is not None:
            saved = read_plan(plan_file)
            absent = [cid for cid in clinic_ids if cid not in saved.clinic_ids]
            if absent:
                raise UsageError(
                    f"--clinic {', '.join(absent)}: not in the saved plan {saved.plan_id} "
                    f"({plan_file}); it plans {len(saved.clinics)} clinic(s)"
                    + (f": {', '.join(saved.clinic_ids[:10])}" if saved.clinics else "")
                    + (" ..." if len(saved.clinics) > 10 else "")
                )
            wanted = [c for c in saved.clinics if not clinic_ids or c.id in clinic_ids]
            saved = replace(saved, clinics=tuple(wanted))
            saved.refuse_errors(plan_file)
            ids = set(saved.clinic_ids)
            given = {c.id for c in clinics}
            outside = [cid for cid in saved.clinic_ids if cid not in given]
            elsewhere = {c.id for c in loaded.clinics}
            if outside and fleet.shard is not None and all(c in elsewhere for c in outside):
                raise UsageError(
                    f"the saved plan {saved.plan_id} ({plan_file}) plans "
                    f"{', '.join(outside[:10])}{' ...' if len(outside) > 10 else ''}, outside "
                    f"shard {fleet.shard}; apply it with the shard it was made for, or without "
                    "--shard"
                )
            if outside:
                raise UsageError(
                    f"the saved plan {saved.plan_id} ({plan_file}) plans "
                    f"{', '.join(outside[:10])}{' ...' if len(outside) > 10 else ''}, not in "
                    "the clinic files given; give the paths the plan was made from, or narrow "
                    "it with --clinic"
                )
            fresh = _make_plan(fleet, pool, [c for c in clinics if c.id in ids], commit)
            result = check_saved_plan(saved, fresh)
            _out(f"Applying saved plan {saved.plan_id}.")
        else:
            result = _make_plan(fleet, pool, clinics, commit)
            _out(render_text(result), nl=False)
        if not result.has_changes:
            _out("Nothing to apply.")
            return result.error_exit
        check_safety(result, rules)
        if plan_file is None and not auto_approve:
            if not _is_interactive():
                raise UsageError(
                    "refusing to apply without confirmation: no terminal to ask on. Review the "
                    "plan, then pass --auto-approve, or apply a saved plan with --plan FILE"
                )
            click.confirm("Apply these changes?", abort=True)
        audit = AuditLog(audit_log, loaded.file_hashes)
        audit.check_writable()
        checklists = _Checklists(checklist_dir, {cp.clinic.id: cp for cp in result.clinics})
        checklists.check_writable(result)

        def on_outcome(outcome: ClinicOutcome) -> None:
            _print_outcome(outcome)
            checklists.write(outcome, result.plan_id)

        with handling_interrupts(), fleet.watch(len(result.clinics), "applying") as progress:
            report = apply_plan(
                result,
                pool.for_clinic,
                rules,
                audit,
                on_outcome,
                limits=fleet.limits,
                sites=site_of,
                progress=progress,
            )
    if report.stopped is not None:
        _print_stop(report)
    ok = sum(o.ok for o in report.outcomes)
    _out(f"Apply: {ok} of {len(report.outcomes)} clinics done.")
    return max(report.exit_code, result.error_exit)


class _Checklists:
    """Writes each clinic's checklist of manual steps as Markdown after its outcome."""

    def __init__(self, directory: Path, plans: dict[str, ClinicPlan]) -> None:
        self.directory, self.plans = directory, plans

    def check_writable(self, plan: Plan) -> None:
        """Before anything is applied: the folder exists (or is made) and takes files."""
        if not any(cp.manual for cp in plan.clinics if cp.error is None):
            return
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            probe = self.directory / ".reconcile-probe"
            probe.write_text("", encoding="utf-8")
            probe.unlink()
        except OSError as exc:
            raise UsageError(
                f"--checklist-dir {self.directory}: cannot write there "
                f"({exc.strerror or type(exc).__name__}); nothing was applied"
            ) from None

    def write(self, outcome: ClinicOutcome, plan_id: str) -> None:
        manual = [r.change for r in outcome.results if r.outcome is Result.MANUAL]
        cp = self.plans.get(outcome.clinic_id)
        if not manual or cp is None:
            return
        path = checklist_path(self.directory, outcome.clinic_id)
        text = render_checklist(cp.clinic, manual, plan_id)
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            _echo_error(f"cannot write the checklist {path}: {exc.strerror or exc}")
            return
        _out(f"  checklist: {path}")
        if any(confirmable(c) for c in manual):
            _out(f"  when it is done: reconcile confirm {outcome.clinic_id}")


def _person(by: str | None) -> str:
    """Who confirms: --by, else asked on a terminal (default: Git's user.name, $USER)."""
    if by is None:
        if not _is_interactive():
            raise UsageError("--by NAME is required: who made these changes")
        default = git_user_name() or os.environ.get("USER") or None
        by = str(click.prompt("Your name (recorded with the confirmation)", default=default))
    name = " ".join(by.split())
    if not name or len(name) > 200 or not name.isprintable():
        raise UsageError("--by: give a name of 1 to 200 printable characters")
    return name


def _when(at: str | None) -> datetime:
    if at is None:
        return state_now()
    try:
        value = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--at {at!r}: not a date and time; write e.g. 2026-12-01T18:30:00Z"
        ) from None
    if value.tzinfo is None:
        raise UsageError(f"--at {at!r}: give the zone too, e.g. 2026-12-01T18:30:00-05:00")
    if value > state_now() + timedelta(minutes=5):
        raise UsageError(f"--at {at!r} is in the future")
    return value


@cli.command(epilog=EPILOG)
@click.argument("clinic_id", metavar="CLINIC")
@paths_argument
@click.option(
    "--change",
    "addresses",
    multiple=True,
    metavar="ADDRESS",
    help="Confirm this change, as the plan shows its address (repeatable).",
)
@click.option("--all", "confirm_all", is_flag=True, help="Confirm every manual change planned.")
@click.option("--by", help="Who made the changes (asked on a terminal when not given).")
@click.option("--at", help="When they were made (ISO 8601 with zone); default: now.")
@state_dir_option
def confirm(
    clinic_id: str,
    paths: tuple[Path, ...],
    addresses: tuple[str, ...],
    confirm_all: bool,
    by: str | None,
    at: str | None,
    state_dir: Path,
) -> int:
    """Record that a person made CLINIC's manual changes (the checklist apply wrote).

    Reads live state and plans CLINIC as `plan` does, then records the chosen changes in
    state/CLINIC.yaml, to commit with the clinic files. The next plan takes a confirmed
    change as done where the EMR cannot show it, and says so where it shows otherwise.
    """
    loaded = _load(paths, state_dir)
    (clinic,) = loaded.select([clinic_id])
    when = _when(at)
    with AdapterPool() as pool:
        planned = make_plan([clinic], pool.for_clinic).clinics[0]
    if planned.error is not None:
        _echo_error(f"{clinic_id}: {planned.error}")
        _out("Nothing was recorded.")
        return planned.error_exit
    candidates = [c for c in planned.manual if confirmable(c)]
    if not candidates:
        _out(f"{clinic_id}: no manual change is planned; nothing to confirm.")
        return ExitCode.OK
    by_address = {c.address: c for c in candidates}
    if addresses:
        unknown = [a for a in addresses if a not in by_address]
        if unknown:
            raise UsageError(
                f"--change {unknown[0]}: not a manual change planned for {clinic_id} now; "
                "planned: " + "; ".join(by_address)
            )
        chosen = [by_address[a] for a in dict.fromkeys(addresses)]
    elif confirm_all:
        chosen = candidates
    elif _is_interactive():
        chosen = []
        for change in candidates:
            _out(headline(change))
            _out("\n".join(f"    {line}" for line in field_lines(change)))
            if click.confirm("  Done?", default=False):
                chosen.append(change)
    else:
        raise UsageError(
            "name the changes with --change ADDRESS (repeatable) or --all; there is no "
            "terminal to ask on"
        )
    if not chosen:
        _out("Nothing was recorded.")
        return ExitCode.OK
    person = _person(by)
    path = state_path(state_dir, clinic_id)
    existing, problems = read_state(path, clinic_id)
    if problems:
        raise ConfigError(problems)
    records = tuple(
        Confirmation(
            change=c.address,
            done={f.name: str(f.after) for f in c.fields},
            by=person,
            at=when,
            plan=None,
        )
        for c in chosen
    )
    write_state(path, clinic_id, Confirmations(existing.records + records))
    _out(f"Recorded {len(records)} confirmation(s) by {person} in {path}:")
    for record in records:
        done = ", ".join(f"{k} {v}" for k, v in record.done.items())
        _out(f"  {record.change}: {done}")
    _out("Commit it with the clinic files; `reconcile plan` now shows what is verified.")
    return ExitCode.OK


def main() -> None:
    cli(prog_name="reconcile")
