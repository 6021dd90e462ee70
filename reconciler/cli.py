"""The command line: parse, call one core function, map errors to exit codes. Nothing else."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from reconciler import __version__
from reconciler.config import load_clinics
from reconciler.errors import ConfigError, ReconcilerError
from reconciler.exitcodes import EXIT_CODE_HELP, ExitCode
from reconciler.secrets import redact

EPILOG = "\b\nExit codes (the same for every command):\n" + EXIT_CODE_HELP


def _echo_error(message: str) -> None:
    click.echo(f"error: {redact(message)}", err=True)


def _print_diagnostics(result_diagnostics: Sequence[Any], files: int) -> None:
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


def main() -> None:
    cli(prog_name="reconcile")
