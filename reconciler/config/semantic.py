"""Checks of meaning that a schema cannot express. They read the raw document defensively,
so they still run, and still report, on a file that also has schema errors.

The checks that know an EMR live in its package (``EmrPackage.check``); here is what is
common to every clinic file: blocks that belong to another EMR kind, invisible characters
in any value, and secret values that can be read here but would not be what was meant.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from reconciler.config.yamlsource import YamlDocument
from reconciler.diagnostics import Diagnostic, FieldPath
from reconciler.emr.contract import EmrPackage
from reconciler.emr.registry import all_emrs, emr, kinds
from reconciler.errors import SecretError, SecretValueError
from reconciler.invisible import describe, first_invisible
from reconciler.secrets import SecretRef


def dig(data: Any, *keys: str) -> Any:
    """``data[k1][k2]...``, or None where a level is missing or not a mapping."""
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _foreign(kind: str) -> Iterator[tuple[EmrPackage, tuple[str, ...]]]:
    """(other EMR, key path) for every block some other EMR kind owns and ``kind`` does not."""
    mine = emr(kind)
    for other in all_emrs():
        if other.kind == kind:
            continue
        for key in other.blocks:
            if key not in mine.blocks:
                yield other, (key,)
        for key in other.emr_keys:
            if key not in mine.emr_keys:
                yield other, ("emr", key)


def _present(data: dict[str, Any], path: tuple[str, ...]) -> bool:
    parent = dig(data, *path[:-1]) if len(path) > 1 else data
    return isinstance(parent, dict) and path[-1] in parent


def misplaced_blocks(data: Any) -> list[tuple[str, ...]]:
    """Blocks that belong to another EMR kind (reported once, by :func:`semantic_diagnostics`)."""
    kind = dig(data, "emr", "kind")
    if kind not in kinds() or not isinstance(data, dict):
        return []
    return [path for _, path in _foreign(kind) if _present(data, path)]


def _strings(node: Any, path: FieldPath) -> Iterator[tuple[FieldPath, str]]:
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _strings(value, (*path, i))


def invisible_characters(doc: YamlDocument) -> Iterator[Diagnostic]:
    """A control, format (zero-width, BOM, bidi) or separator character in any value: it
    would be written to the EMR as part of a name, unseen."""
    for path, text in _strings(doc.data, ()):
        bad = first_invisible(text)
        if bad is not None:
            yield doc.diagnostic(
                path,
                f"contains the invisible character {describe(bad)}; remove it (it would be "
                "written as part of the value)",
            )


def _secret_references(
    node: Any, path: FieldPath, base_dir: Path
) -> Iterator[tuple[FieldPath, SecretRef]]:
    if (ref := SecretRef.from_raw(node, base_dir)) is not None:
        yield path, ref
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _secret_references(value, (*path, key), base_dir)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _secret_references(value, (*path, i), base_dir)


def secret_values(doc: YamlDocument) -> Iterator[Diagnostic]:
    """A secret that can be read here (a variable that is set, a file that exists) but whose
    value is unusable. One that cannot be read is not an error here: validate runs where
    secrets may not be, and plan reads them again."""
    for path, ref in _secret_references(doc.data, (), Path(doc.path).parent):
        try:
            ref.resolve()
        except SecretValueError as exc:
            yield doc.diagnostic(path, str(exc))
        except SecretError:
            continue


def semantic_diagnostics(
    doc: YamlDocument, today: date, here_and_now: bool = True
) -> Iterator[Diagnostic]:
    """Every problem of meaning. ``here_and_now``: also the checks that depend on where and
    when this runs (secret values readable here, dates that have come), as ``validate`` does;
    ``plan`` and ``apply`` leave them to each clinic's adapter, so such a problem is that
    clinic's error and the others still run."""
    data = doc.data
    if not isinstance(data, dict):
        yield doc.diagnostic((), "a clinic file is a mapping that starts with 'version: 1'")
        return
    yield from invisible_characters(doc)
    if here_and_now:
        yield from secret_values(doc)
    kind = dig(data, "emr", "kind")
    if kind not in kinds():
        return  # the schema reports the kind
    seen: set[tuple[str, ...]] = set()
    for other, path in _foreign(kind):
        if path in seen or not _present(data, path):
            continue
        seen.add(path)
        name = ".".join(path)
        yield doc.diagnostic(
            path,
            f"'{name}' is for {other.title} clinics; this clinic's emr.kind is {kind}",
            at_key=True,
        )
    yield from emr(kind).check(doc, today)
    if here_and_now:
        yield from emr(kind).check_here_and_now(doc, today)
