"""Confirmations: what people did by hand, one small YAML file per clinic under ``state/``.

Some changes only a person can make (a permission grid an EMR's API cannot write). After
doing them, a person records it with ``reconcile confirm``; the record lives in
``state/<clinic id>.yaml``, committed and reviewed like the clinic files, and checked
against ``schemas/state.schema.json`` like them. Plan then compares what an EMR shows with
what was confirmed where nothing can be observed; each EMR package decides what a
confirmation proves (:attr:`reconciler.model.Clinic.confirmations`).

A state file that does not load is an input error (exit 1) naming its file, line and
field, exactly as a clinic file's would be.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from reconciler.config.schema import schema_diagnostics
from reconciler.config.yamlsource import YamlLoadError, read_yaml_file
from reconciler.diagnostics import Diagnostic
from reconciler.errors import ReconcilerError
from reconciler.model import NO_CONFIRMATIONS, Clinic, Confirmation, Confirmations

DEFAULT_STATE_DIR = Path("state")
SCHEMA_LINE = "# yaml-language-server: $schema=../schemas/state.schema.json\n"
HEADER = (
    "# What people did by hand in this clinic's EMR, recorded by `reconcile confirm`.\n"
    "# Reviewed and committed like the clinic files; plan reads it.\n"
)


class StateFileError(ReconcilerError):
    """A state file could not be written."""


def state_path(state_dir: Path, clinic_id: str) -> Path:
    return state_dir / f"{clinic_id}.yaml"


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def read_state(path: Path, clinic_id: str) -> tuple[Confirmations, list[Diagnostic]]:
    """The confirmations in ``path`` (none when it does not exist), and its problems."""
    if not path.exists() and not path.is_symlink():
        return NO_CONFIRMATIONS, []
    name = _display(path)
    if not path.is_file():
        return NO_CONFIRMATIONS, [
            Diagnostic(name, 1, 1, "(document)", "is not a regular file; a state file is YAML")
        ]
    try:
        doc = read_yaml_file(path, name)
    except YamlLoadError as exc:
        return NO_CONFIRMATIONS, [exc.diagnostic]
    problems = schema_diagnostics(doc, "state")
    if problems:
        return NO_CONFIRMATIONS, problems
    data: dict[str, Any] = doc.data
    if data["clinic"] != clinic_id:
        return NO_CONFIRMATIONS, [
            doc.diagnostic(
                ("clinic",),
                f"is '{data['clinic']}', but this file holds the state of clinic "
                f"'{clinic_id}' (state files are named after their clinic)",
            )
        ]
    records = []
    for index, item in enumerate(data["confirmations"]):
        at = _parse_time(item["at"])
        if at is None:
            return NO_CONFIRMATIONS, [
                doc.diagnostic(
                    ("confirmations", index, "at"),
                    "is not a real date and time (e.g. 2026-12-01T18:30:00Z)",
                )
            ]
        records.append(
            Confirmation(
                change=item["change"],
                done=dict(item["done"]),
                by=item["by"],
                at=at,
                plan=item.get("plan"),
            )
        )
    return Confirmations(tuple(records), source=name), []


def _parse_time(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def attach_state(
    clinics: Sequence[Clinic], state_dir: Path
) -> tuple[list[Clinic], list[Diagnostic]]:
    """Each clinic with its confirmations from ``state_dir``, and every state file's
    problems (a clinic whose state file has problems keeps none)."""
    out: list[Clinic] = []
    problems: list[Diagnostic] = []
    for clinic in clinics:
        found, errors = read_state(state_path(state_dir, clinic.id), clinic.id)
        problems.extend(errors)
        out.append(replace(clinic, confirmations=found) if found.records else clinic)
    return out, problems


def orphan_state_files(state_dir: Path, clinic_ids: Iterable[str]) -> list[Path]:
    """State files in ``state_dir`` that belong to no clinic given."""
    if not state_dir.is_dir():
        return []
    known = {f"{cid}.yaml" for cid in clinic_ids}
    return sorted(p for p in state_dir.glob("*.yaml") if p.name not in known)


def now() -> datetime:
    """The time a confirmation is recorded at: UTC, to the second."""
    return datetime.now(UTC).replace(microsecond=0)


def format_time(value: datetime) -> str:
    text = value.astimezone(UTC).replace(microsecond=0).isoformat()
    return text.replace("+00:00", "Z")


def write_state(path: Path, clinic_id: str, confirmations: Confirmations) -> None:
    """Write the whole file at once (a temporary file renamed over it): never half."""
    body: dict[str, Any] = {
        "version": 1,
        "clinic": clinic_id,
        "confirmations": [
            {
                "change": r.change,
                "done": dict(r.done),
                "by": r.by,
                "at": format_time(r.at),
                **({"plan": r.plan} if r.plan else {}),
            }
            for r in confirmations.records
        ],
    }
    text = (
        SCHEMA_LINE + HEADER + yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=1000)
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink() or (path.exists() and not path.is_file()):
            raise StateFileError(f"{_display(path)}: not a regular file; not replacing it")
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise StateFileError(
            f"cannot write {_display(path)}: {exc.strerror or type(exc).__name__}"
        ) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise StateFileError(
            f"cannot write {_display(path)}: {exc.strerror or type(exc).__name__}"
        ) from None


__all__ = [
    "DEFAULT_STATE_DIR",
    "StateFileError",
    "attach_state",
    "format_time",
    "now",
    "orphan_state_files",
    "read_state",
    "state_path",
    "write_state",
]
