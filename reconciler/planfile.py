"""Saved plans: ``plan --out FILE`` writes the JSON plan; ``apply --plan FILE`` reads it back.

A saved plan holds, per clinic, the hash of its desired state and, per change, the
fingerprint of the live object it was computed from, so apply can refuse a stale plan. It
holds no secret values (sensitive fields are ``(sensitive)``).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, ValidationError

from reconciler.diagnostics import format_field
from reconciler.errors import PlanFileError
from reconciler.fleet import Shard
from reconciler.plan import Action, Mode, Plan, SafetyRule, plan_digest
from reconciler.render.json_ import FORMAT_VERSION, content_digest, render_json

_IDENTITY = ("address", "action", "mode", "before", "after", "fingerprint")
_SHOWN = 10  # problems listed; a plan broken everywhere is one message, not thousands
_TYPES = {"object": "an object", "array": "a list", "string": "a string", "null": "null"}
_TEXT: dict[str, Any] = {"type": "string"}
_NAME: dict[str, Any] = {"type": "string", "minLength": 1}
_PLAN_ID: dict[str, Any] = {
    "type": "string",
    "pattern": "^[0-9a-f]{16}$",
    "description": "16 hexadecimal digits",
}
_CLINIC_ID: dict[str, Any] = {
    "type": "string",
    "pattern": "^[a-z0-9][a-z0-9-]*$",
    "maxLength": 63,
    "description": "a clinic id (lowercase letters, digits and dashes)",
}
_SHOWN_VALUE: dict[str, Any] = {"type": ["string", "null"]}
_LIMITED_TEXT: dict[str, Any] = {"type": "string", "maxLength": 1000}
_OBSERVED: dict[str, Any] = {
    "description": "what `reconcile report` draws of the clinic (EmrPackage.observed): a grid "
    "of states, desired vs live; null when its EMR draws nothing",
    "type": ["object", "null"],
    "additionalProperties": False,
    "properties": {
        "grid": {
            "type": "object",
            "additionalProperties": False,
            "required": ["columns", "groups"],
            "properties": {
                "title": _LIMITED_TEXT,
                "group": _LIMITED_TEXT,
                "row": _LIMITED_TEXT,
                "columns": {"type": "array", "maxItems": 64, "items": _LIMITED_TEXT},
                "groups": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["name", "rows"],
                        "properties": {
                            "name": _LIMITED_TEXT,
                            "rows": {"type": "array", "items": _LIMITED_TEXT},
                        },
                    },
                },
            },
        },
        "compare": {
            "type": "array",
            "items": {
                "type": "array",
                "minItems": 5,
                "maxItems": 5,
                "prefixItems": [_LIMITED_TEXT, _LIMITED_TEXT, _LIMITED_TEXT, _LIMITED_TEXT],
                "items": {"enum": ["same", "missing", "extra", "different", "unknown"]},
            },
        },
    },
}

PLAN_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "reconciler saved plan, format_version 1 (what `reconcile plan --out` writes)",
    "type": "object",
    "additionalProperties": False,
    "required": ["format_version", "plan_id", "digest", "clinics"],
    "properties": {
        "format_version": {"const": FORMAT_VERSION},
        "plan_id": _PLAN_ID,
        "shard": {
            "$comment": "the `--shard I/N` the plan was made with; absent or null for a plan of "
            "the whole fleet (or of all its shards combined)",
            "description": "a shard I/N (for example 2/3)",
            "type": ["string", "null"],
            "pattern": "^[1-9][0-9]{0,5}/[1-9][0-9]{0,5}$",
        },
        "parts": {
            "description": "a combined plan (`reconcile show A B --out FILE`): the plans it "
            "was combined from, each with the clinics it planned; plan_id is derived from "
            "their plan ids",
            "type": "array",
            "minItems": 2,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["plan_id", "clinics"],
                "properties": {
                    "plan_id": _PLAN_ID,
                    "clinics": {"type": "array", "items": _CLINIC_ID},
                },
            },
        },
        "digest": {
            "type": "string",
            "pattern": "^sha256:[0-9a-f]{64}$",
            "description": "sha256: and 64 hexadecimal digits",
        },
        "config_commit": {"type": ["string", "null"]},
        "summary": {"type": "object"},
        "clinics": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "status", "error", "desired_hash", "changes"],
                "properties": {
                    "id": _CLINIC_ID,
                    "name": _TEXT,
                    "emr": _NAME,
                    "file": _TEXT,
                    "status": {"enum": ["in_sync", "changes", "error"]},
                    "error": {"type": ["string", "null"]},
                    "notes": {"type": "array", "maxItems": 100, "items": _TEXT},
                    "observed": _OBSERVED,
                    "desired_hash": {
                        "type": "string",
                        "pattern": "^sha256:[0-9a-f]{64}$",
                        "description": "sha256: and 64 hexadecimal digits",
                    },
                    "changes": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": list(_IDENTITY),
                            "properties": {
                                "address": _NAME,
                                "resource": _NAME,
                                "action": {"enum": [a.value for a in Action]},
                                "mode": {"enum": [m.value for m in Mode]},
                                "before": {"type": ["object", "null"]},
                                "after": {"type": ["object", "null"]},
                                "fingerprint": _NAME,
                                "impact": _TEXT,
                                "steps": {"type": "array", "items": _TEXT},
                                "safety_rule": {"enum": [*(r.value for r in SafetyRule), None]},
                                "shown": {
                                    "description": "each field as the plan prints it",
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "additionalProperties": False,
                                        "required": ["name", "before", "after"],
                                        "properties": {
                                            "name": _NAME,
                                            "before": _SHOWN_VALUE,
                                            "after": _SHOWN_VALUE,
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}
_VALIDATOR = Draft202012Validator(PLAN_SCHEMA)


@dataclass(frozen=True, slots=True)
class SavedClinic:
    id: str
    desired_hash: str
    changes: tuple[dict[str, Any], ...]  # Change.identity() of each planned change
    error: str | None = None  # the clinic could not be planned


@dataclass(frozen=True, slots=True)
class SavedPlan:
    plan_id: str
    clinics: tuple[SavedClinic, ...]

    @property
    def clinic_ids(self) -> list[str]:
        return [c.id for c in self.clinics]

    def refuse_errors(self, path: Path) -> None:
        """Refuse a plan (as narrowed with ``--clinic``) that holds a clinic that could not
        be planned: there is nothing reviewed to apply for it."""
        for c in self.clinics:
            if c.error is not None:
                raise PlanFileError(
                    f"{path}: clinic {c.id} could not be planned; "
                    "fix it and plan again, or apply the other clinics with --clinic"
                )


def check_out_path(
    path: Path, inputs: Iterable[str | Path] = (), kind: str = "clinic file"
) -> None:
    """Refuse (exit 1, naming it) to save a plan over anything but a regular file that is
    not one of ``inputs`` (the clinic files just read, or the plan files: ``kind``), or a new
    path: a symlink, a device, a FIFO or a clinic file would be replaced by the plan."""
    try:
        info = os.lstat(path)
    except OSError:  # a new path; one that cannot be written says so when written
        return
    if stat.S_ISLNK(info.st_mode):
        raise PlanFileError(
            f"{path}: is a symbolic link; refusing to replace it with the plan (name the file "
            "itself, or a new path)"
        )
    if not stat.S_ISREG(info.st_mode):
        raise PlanFileError(f"{path}: not a regular file; refusing to replace it with the plan")
    for name in inputs:
        try:
            same = os.path.samefile(path, name)
        except OSError:
            continue
        if same:
            raise PlanFileError(
                f"{path}: is a {kind} this run reads; refusing to replace it with the plan"
            )


def write_plan(plan: Plan, path: Path, render: Callable[[Plan], str] = render_json) -> None:
    """Write atomically, so a reviewer never sees half a plan; the target is checked again
    just before (:func:`check_out_path`). ``render`` makes the JSON (a combined plan's
    :func:`reconciler.combine.render_json` adds its parts)."""
    check_out_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise PlanFileError(f"{path}: cannot write the plan file ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(render(plan))
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise PlanFileError(f"{path}: cannot write the plan file ({exc.strerror})") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _field(path: Iterable[str | int]) -> str:
    return format_field(tuple(path)) if path else "(plan)"


def _schema_problem(error: ValidationError) -> str:
    """One schema error in words; the offending value is never echoed (it may be huge)."""
    where = _field(error.absolute_path)
    expected: Any = error.validator_value
    instance = error.instance
    if error.validator == "type":
        names = [expected] if isinstance(expected, str) else list(expected)
        return f"{where}: must be {' or '.join(_TYPES.get(n, n) for n in names)}"
    if error.validator == "required":
        missing = next(
            (n for n in expected if isinstance(instance, dict) and n not in instance), ""
        )
        return f"{where}: missing required field '{missing}'"
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        unknown = sorted(str(k) for k in instance if k not in known)
        return f"{where}: unknown field(s) {', '.join(repr(k) for k in unknown)}"
    if error.validator == "enum":
        return f"{where}: must be one of: {', '.join(map(str, expected))}"
    if error.validator == "pattern":
        return f"{where}: is not {error.schema.get('description', 'valid')}"  # type: ignore[union-attr]
    if error.validator in {"minItems", "maxItems"}:
        return f"{where}: has too {'few' if error.validator == 'minItems' else 'many'} items"
    if error.validator in {"minLength", "maxLength"}:
        return f"{where}: is too {'short' if error.validator == 'minLength' else 'long'}"
    return f"{where}: is not valid ({error.validator})"


def _problems(data: Any) -> list[str]:
    """What is wrong with a loaded plan: its schema, then what a schema cannot say."""
    errors = sorted(_VALIDATOR.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        return [_schema_problem(e) for e in errors[:_SHOWN]]
    problems: list[str] = []
    first: dict[str, int] = {}
    for i, clinic in enumerate(data["clinics"]):
        cid = clinic["id"]
        if cid in first:
            problems.append(f"clinics[{i}].id: clinic {cid} is already in clinics[{first[cid]}]")
        first.setdefault(cid, i)
        seen: dict[str, int] = {}
        for j, change in enumerate(clinic["changes"]):
            if change["address"] in seen:
                problems.append(
                    f"clinics[{i}].changes[{j}].address: {change['address']} is already in "
                    f"changes[{seen[change['address']]}]"
                )
            seen.setdefault(change["address"], j)
        if (clinic["status"] == "error") != (clinic["error"] is not None):
            problems.append(f"clinics[{i}].status: {clinic['status']} does not match its error")
        elif clinic["status"] == "in_sync" and clinic["changes"]:
            problems.append(f"clinics[{i}].status: in_sync, but it lists changes")
        elif clinic["status"] == "changes" and not clinic["changes"]:
            problems.append(f"clinics[{i}].status: changes, but it lists none")
    shard = data.get("shard")
    if shard is not None:
        try:
            exact = str(Shard.parse(shard)) == shard
        except ValueError:
            exact = False
        if not exact:
            problems.append("shard: is not a shard I/N with I between 1 and N (for example 2/3)")
        if "parts" in data:
            problems.append("shard: a combined plan is of every shard, not of one")
    if problems:
        return problems[:_SHOWN]
    bodies = {
        c["id"]: {
            "id": c["id"],
            "desired": c["desired_hash"],
            "error": c["error"],
            "changes": [{k: ch[k] for k in _IDENTITY} for ch in c["changes"]],
        }
        for c in data["clinics"]
    }
    if "parts" in data:
        problems = _part_problems(data["parts"], bodies, data["plan_id"])
        if problems:
            return problems[:_SHOWN]
    elif plan_digest(list(bodies.values())) != data["plan_id"]:
        return [
            f"plan_id: {data['plan_id']} does not match what the plan holds: it was edited after "
            "`reconcile plan` wrote it"
        ]
    if content_digest(data) != data["digest"]:
        return [
            "digest: does not match what the plan holds: it was edited after `reconcile plan` "
            "wrote it (a field a reviewer reads, such as an impact, a step, a safety rule, a "
            "name or the summary)"
        ]
    return []


def combined_plan_id(part_ids: Iterable[str]) -> str:
    """The plan id of a combined plan: derived from the plan ids of its parts, whatever their
    order (two plans that are equal, both with no clinic, count twice)."""
    canonical = json.dumps({"combined": sorted(part_ids)}, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()[:16]


def _part_problems(
    parts: Sequence[dict[str, Any]], bodies: dict[str, dict[str, Any]], plan_id: str
) -> list[str]:
    """A combined plan: each clinic in exactly one part, each part's plan id the plan id of
    its clinics (as ``plan`` computed it), and the plan id derived from the parts' ids."""
    problems: list[str] = []
    seen: dict[str, int] = {}
    for i, part in enumerate(parts):
        for cid in part["clinics"]:
            if cid not in bodies:
                problems.append(f"parts[{i}].clinics: clinic {cid} is not in the plan")
            elif cid in seen:
                problems.append(
                    f"parts[{i}].clinics: clinic {cid} is already in parts[{seen[cid]}]"
                )
            seen.setdefault(cid, i)
    unclaimed = [cid for cid in bodies if cid not in seen]
    if unclaimed:
        more = " ..." if len(unclaimed) > 10 else ""
        problems.append(f"parts: no part holds clinic(s) {', '.join(unclaimed[:10])}{more}")
    if problems:
        return problems
    edited = "it was edited after `reconcile show` combined it"
    for i, part in enumerate(parts):
        if plan_digest([bodies[cid] for cid in part["clinics"]]) != part["plan_id"]:
            problems.append(
                f"parts[{i}].plan_id: {part['plan_id']} does not match the clinics it lists: "
                + edited
            )
    if not problems and combined_plan_id(p["plan_id"] for p in parts) != plan_id:
        problems.append(f"plan_id: {plan_id} is not derived from its parts' plan ids: {edited}")
    return problems


MAX_PLAN_BYTES = 64 * 1024 * 1024
"""A saved plan larger than this is refused unread (5,000 clinics make some 10 MB)."""


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise _DuplicateKey(key)
        data[key] = value
    return data


def _read_bytes(path: Path) -> bytes:
    """The file's bytes: a regular file of at most :data:`MAX_PLAN_BYTES`, checked before it
    is opened (a FIFO or device is refused, never read)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise PlanFileError(f"{path}: no such plan file") from None
    except OSError as exc:
        raise PlanFileError(f"{path}: cannot read the plan file ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise PlanFileError(f"{path}: not a plan file (not a regular file)")
    too_big = PlanFileError(
        f"{path}: larger than {MAX_PLAN_BYTES // (1024 * 1024)} MiB; not a plan this tool wrote"
    )
    if info.st_size > MAX_PLAN_BYTES:
        raise too_big
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise PlanFileError(f"{path}: not a plan file (not a regular file)")
            chunks, size = [], 0
            while size <= MAX_PLAN_BYTES and (chunk := os.read(fd, 1024 * 1024)):
                chunks.append(chunk)
                size += len(chunk)
        finally:
            os.close(fd)
    except OSError as exc:
        raise PlanFileError(f"{path}: cannot read the plan file ({exc.strerror})") from None
    if size > MAX_PLAN_BYTES:
        raise too_big
    return b"".join(chunks)


def _load_json(path: Path) -> Any:
    raw = _read_bytes(path)
    try:
        return json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except UnicodeDecodeError:
        raise PlanFileError(f"{path}: cannot read the plan file (not UTF-8)") from None
    except json.JSONDecodeError as exc:
        raise PlanFileError(
            f"{path}:{exc.lineno}:{exc.colno}: not a JSON plan: {exc.msg}"
        ) from None
    except _DuplicateKey as exc:
        raise PlanFileError(
            f"{path}: not a valid reconciler plan: the key {exc.key[:60]!r} appears twice in "
            "one object (a plan this tool wrote never repeats a key)"
        ) from None
    except RecursionError:
        raise PlanFileError(f"{path}: not a reconciler plan: nested too deeply") from None
    except ValueError:  # an integer too long to convert, say
        raise PlanFileError(
            f"{path}: not a reconciler plan: it holds a value JSON cannot be read as here "
            "(an integer thousands of digits long, say)"
        ) from None


def load_plan_json(path: Path) -> Any:
    """A plan file's JSON, unchecked but for being a bounded regular file of JSON with no
    repeated key (:func:`check_plan_data` checks the rest)."""
    return _load_json(path)


def format_version_of(data: Any) -> object:
    """The ``format_version`` a loaded plan says it has, as it may be shown in a message (a
    number or string as is, anything else ``'(not a number)'``); None when it says none."""
    version = data.get("format_version") if isinstance(data, dict) else None
    return version if isinstance(version, int | float | str | None) else "(not a number)"


def check_plan_data(path: Path, data: Any) -> dict[str, Any]:
    """Check a loaded plan as :func:`read_plan` does and return it; anything off is
    PlanFileError naming ``path``."""
    if isinstance(data, dict) and data.get("format_version", FORMAT_VERSION) != FORMAT_VERSION:
        raise PlanFileError(
            f"{path}: plan format_version {format_version_of(data)!r} is not supported "
            f"(expected {FORMAT_VERSION}); plan again with this version"
        )
    try:
        problems = _problems(data)
    except RecursionError:
        raise PlanFileError(f"{path}: not a reconciler plan: nested too deeply") from None
    if problems:
        raise PlanFileError(f"{path}: not a valid reconciler plan:\n  " + "\n  ".join(problems))
    checked: dict[str, Any] = data
    return checked


def read_plan_data(path: Path) -> dict[str, Any]:
    """A saved plan, read and checked as :func:`read_plan` does, as the document it is
    (everything a renderer needs: see :mod:`reconciler.combine`)."""
    return check_plan_data(path, _load_json(path))


def read_plan(path: Path) -> SavedPlan:
    """Read and check a saved plan: a regular file of a bounded size, valid JSON with no
    repeated key, this format's schema, each clinic once, each change once, a plan id that
    matches its contents (for a combined plan, its parts) and a digest that matches every
    field. Anything off is PlanFileError. Clinics that could not be planned are kept (see
    :meth:`SavedPlan.refuse_errors`), so ``--clinic`` can narrow past them."""
    data = read_plan_data(path)
    return SavedPlan(
        plan_id=data["plan_id"],
        clinics=tuple(
            SavedClinic(
                id=c["id"],
                desired_hash=c["desired_hash"],
                changes=tuple({k: ch[k] for k in _IDENTITY} for ch in c["changes"]),
                error=c["error"],
            )
            for c in data["clinics"]
        ),
    )
