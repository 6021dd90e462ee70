"""Load clinic files: YAML with positions, JSON Schema, semantic checks, then the model.

Every problem in every file is collected before anything is reported, so one run of
``reconcile validate`` shows them all.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from reconciler.config.build import build_clinic
from reconciler.config.schema import clinic_schema, schema_diagnostics
from reconciler.config.semantic import dig, misplaced_blocks, semantic_diagnostics
from reconciler.config.yamlsource import YamlLoadError, read_yaml_file
from reconciler.diagnostics import Diagnostic, format_field, sort_diagnostics
from reconciler.errors import ConfigError, UsageError
from reconciler.model import Clinic

__all__ = ["DEFAULT_PATH", "LoadResult", "clinic_schema", "discover", "load_clinics"]

DEFAULT_PATH = Path("clinics")
CLINIC_SUFFIXES = (".yaml", ".yml")


@dataclass(slots=True)
class LoadResult:
    files: list[str] = field(default_factory=list)
    clinics: list[Clinic] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    file_hashes: dict[str, str] = field(default_factory=dict)  # file as shown -> sha256

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]

    def raise_for_errors(self) -> None:
        if self.errors:
            raise ConfigError(self.diagnostics, files=len(self.files))

    def select(self, clinic_ids: Sequence[str]) -> list[Clinic]:
        """The clinics named (all when none are); an unknown id is a usage error."""
        if not clinic_ids:
            return list(self.clinics)
        known = {c.id: c for c in self.clinics}
        missing = [cid for cid in clinic_ids if cid not in known]
        if missing:
            where = ", ".join(self.files) if len(self.files) <= 3 else f"{len(self.files)} files"
            raise UsageError(f"no clinic with id {', '.join(missing)} in {where or 'the files'}")
        return [known[cid] for cid in dict.fromkeys(clinic_ids)]


def _display(path: Path) -> str:
    """Relative to the working directory when inside it, else absolute."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # pragma: no cover - another drive on Windows
        return str(path)
    return str(path) if rel.startswith("..") else rel


def _within(field: str, block: str) -> bool:
    return field == block or field.startswith((f"{block}.", f"{block}["))


def discover(paths: Iterable[Path]) -> list[Path]:
    """Clinic files under ``paths``: a file as given, a folder searched for *.yaml/*.yml."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(
                p
                for p in path.rglob("*")
                if p.suffix in CLINIC_SUFFIXES
                and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not inside:
                raise UsageError(
                    f"{_display(path)}: no clinic files (*.yaml, *.yml) in this folder"
                )
            found.extend(inside)
        elif path.is_file():
            found.append(path)
        else:
            raise UsageError(f"{_display(path)}: no such file or folder")
    return list(dict.fromkeys(p.resolve() for p in found))


def load_clinics(
    paths: Sequence[Path] = (), today: date | None = None, here_and_now: bool = True
) -> LoadResult:
    """Read and check every clinic file under ``paths`` (default ``clinics/``).

    ``here_and_now`` also runs the checks that depend on where and when this runs: every
    secret value that can be read here, dates that have come (``validate``). ``plan`` and
    ``apply`` pass False and meet those problems as one clinic's error, so a secret or a date
    never stops the rest of a fleet.
    """
    today = today or date.today()
    result = LoadResult()
    first_by_id: dict[str, str] = {}
    for file_path in discover(paths or [DEFAULT_PATH]):
        name = _display(file_path)
        result.files.append(name)
        try:
            doc = read_yaml_file(file_path, name)
        except YamlLoadError as exc:
            result.diagnostics.append(exc.diagnostic)
            continue
        result.file_hashes[name] = doc.sha256
        misplaced = misplaced_blocks(doc.data)
        found = [
            d
            for d in schema_diagnostics(doc)
            if not any(_within(d.field, format_field(block)) for block in misplaced)
        ]
        found.extend(semantic_diagnostics(doc, today, here_and_now))
        clinic_id = dig(doc.data, "clinic", "id")
        if isinstance(clinic_id, str):
            if clinic_id in first_by_id:
                found.append(
                    doc.diagnostic(
                        ("clinic", "id"),
                        f"clinic id '{clinic_id}' is already used by {first_by_id[clinic_id]}",
                    )
                )
            else:
                pos = doc.position(("clinic", "id"))
                first_by_id[clinic_id] = f"{name}:{pos.line}"
        result.diagnostics.extend(found)
        if not any(d.is_error for d in found):
            result.clinics.append(build_clinic(doc, file_path))
    result.diagnostics = sort_diagnostics(result.diagnostics)
    return result
