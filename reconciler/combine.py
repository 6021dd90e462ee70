"""Saved plans shown again, and combined into one: ``reconcile show PLAN_FILE...``.

A saved plan (``plan --out``) holds everything the renderers print: per clinic its id, name,
EMR, file, status, error and notes; per change its address, resource, action, mode, impact,
steps, safety rule, identity (``before``, ``after``, ``fingerprint``) and each field as the
plan printed it (``shown``). :func:`plan_from_data` rebuilds the :class:`~reconciler.plan.Plan`
from that, without a clinic file or an EMR, so the same renderers print it exactly as
``plan`` did: its text, its Markdown, and its JSON byte for byte.

Several saved plans, the shards of one fleet (``plan --shard I/N --out plan-I.json``), make
one plan (:func:`combine`): each clinic may be in one of them only, and they must be of one
format version and one commit of the clinic files. The clinics are listed in the order of
their files, as ``plan`` of the whole folder lists them, and the combined plan's id is
derived from the plan ids of its parts, whatever order they are given in. Saved, a combined
plan lists its parts (their plan ids and clinics), so reading it checks each part's plan id
against the clinics it holds as well as the whole; ``apply --plan`` takes it like any saved
plan, each clinic checked against live state again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from reconciler.errors import PlanFileError
from reconciler.fleet import Shard
from reconciler.model import Clinic, SourceLocation
from reconciler.plan import (
    Action,
    Change,
    ClinicPlan,
    FieldChange,
    Mode,
    Plan,
    SafetyRule,
)
from reconciler.planfile import (
    check_plan_data,
    combined_plan_id,
    format_version_of,
    load_plan_json,
    write_plan,
)
from reconciler.render.common import value
from reconciler.render.json_ import content_digest, dump, plan_to_dict
from reconciler.render.json_ import render_json as render_single_json
from reconciler.render.markdown import render_markdown
from reconciler.render.text import render_text

_IDENTITY = ("address", "action", "mode", "before", "after", "fingerprint")
_CLINIC_NEEDS = ("name", "emr", "file", "notes")
_CHANGE_NEEDS = ("resource", "impact", "steps", "safety_rule", "shown")
_LISTED = 10  # clinics or files named in one message


class Shown:
    """A field's value as a saved plan prints it: renders as exactly that text."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Shown({self.text!r})"


@dataclass(frozen=True, slots=True)
class PlannedClinic(Clinic):
    """A clinic as a saved plan tells of it: no declared state, only the hash it had."""

    saved_hash: str = ""

    def desired_hash(self) -> str:
        return self.saved_hash


@dataclass(frozen=True, slots=True)
class PlannedChange(Change):
    """A change as a saved plan tells of it: its fields as they were printed, and its
    identity as it was saved (what ``apply --plan`` compares with live state)."""

    saved_identity: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def identity(self) -> dict[str, Any]:
        return dict(self.saved_identity)


@dataclass(frozen=True, slots=True)
class Part:
    """One plan a combined plan was made of: its plan id and its clinics, in its order."""

    plan_id: str
    clinics: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CombinedPlan(Plan):
    """Several plans as one; its id is derived from theirs (:func:`combined_plan_id`)."""

    parts: tuple[Part, ...] = ()

    @property
    def plan_id(self) -> str:
        return combined_plan_id(p.plan_id for p in self.parts)


@dataclass(frozen=True, slots=True)
class LoadedPlan:
    """A saved plan file, checked and rebuilt."""

    path: Path
    plan: Plan

    @property
    def parts(self) -> tuple[Part, ...]:
        if isinstance(self.plan, CombinedPlan):
            return self.plan.parts
        return (Part(self.plan.plan_id, tuple(cp.clinic.id for cp in self.plan.clinics)),)


# --- rebuilding a plan from its document -----------------------------------------------------


def _shown_problems(change: Mapping[str, Any]) -> list[str]:
    """What in ``shown`` disagrees with the change's identity: the fields printed must be the
    fields ``apply --plan`` checks, with the values it checks where it checks them."""
    shown = change["shown"]
    names = [f["name"] for f in shown]
    problems = []
    for side in ("before", "after"):
        typed = change[side]
        if isinstance(typed, dict):
            if names != list(typed):
                problems.append(f"shown: its fields are not those of {side}")
                continue
            for f in shown:
                if not _agrees(typed[f["name"]], f[side]):
                    problems.append(f"shown: {f['name']} does not match its {side}")
        elif change["action"] in (Action.GRANT, Action.REVOKE) and any(
            f[side] is not None for f in shown
        ):
            problems.append(f"shown: a field has a value {side}, where {side} is null")
    steps_only = change["before"] is None and change["after"] is None
    if change["action"] == Action.STEP and steps_only and shown:
        problems.append("shown: lists fields, where the step has none")
    return problems


def _agrees(typed: Any, text: str | None) -> bool:
    if typed is None or text is None:
        return typed is None and text is None
    if isinstance(typed, str):  # a string prints quoted; a date, say, as it is
        return text in (typed, value(typed))
    if isinstance(typed, bool | int | float):
        return text == value(typed)
    return True  # a list or mapping prints as Python writes it: nothing to compare


def _check_renderable(path: Path, data: Mapping[str, Any]) -> None:
    """Refuse a plan that lacks what the renderers need (one written by an earlier version
    of this tool, before ``shown``), or whose printed fields disagree with its changes."""
    missing = [] if "config_commit" in data else ["config_commit"]
    problems: list[str] = []
    for i, c in enumerate(data["clinics"]):
        missing += [f"clinics[{i}].{k}" for k in _CLINIC_NEEDS if k not in c]
        for j, ch in enumerate(c["changes"]):
            where = f"clinics[{i}].changes[{j}]"
            absent = [f"{where}.{k}" for k in _CHANGE_NEEDS if k not in ch]
            missing += absent
            if not absent:
                problems += [f"{where}.{p}" for p in _shown_problems(ch)]
    if missing:
        more = " ..." if len(missing) > _LISTED else ""
        raise PlanFileError(
            f"{path}: lacks {', '.join(missing[:_LISTED])}{more}, which `reconcile show` needs "
            "to print it (a plan saved by an earlier version of reconcile); plan again"
        )
    if problems:
        raise PlanFileError(
            f"{path}: not a valid reconciler plan:\n  " + "\n  ".join(problems[:_LISTED])
        )


def _change(data: Mapping[str, Any], order: int) -> PlannedChange:
    rule = data["safety_rule"]
    return PlannedChange(
        address=data["address"],
        resource=data["resource"],
        action=Action(data["action"]),
        mode=Mode(data["mode"]),
        fields=tuple(
            FieldChange(
                f["name"],
                None if f["before"] is None else Shown(f["before"]),
                None if f["after"] is None else Shown(f["after"]),
            )
            for f in data["shown"]
        ),
        impact=data["impact"],
        steps=tuple(data["steps"]),
        fingerprint=data["fingerprint"],
        safety_rule=SafetyRule(rule) if rule is not None else None,
        order=order,
        saved_identity={k: data[k] for k in _IDENTITY},
    )


def _clinic_plan(data: Mapping[str, Any]) -> ClinicPlan:
    clinic = PlannedClinic(
        id=data["id"],
        name=data["name"],
        emr=data["emr"],
        spec=None,
        source=SourceLocation(data["file"]),
        document={},
        saved_hash=data["desired_hash"],
    )
    return ClinicPlan(
        clinic,
        changes=tuple(_change(ch, i) for i, ch in enumerate(data["changes"])),
        error=data["error"],
        notes=tuple(data["notes"]),
        observed=data.get("observed"),
    )


def plan_from_data(path: Path, data: Mapping[str, Any]) -> Plan:
    """The plan a checked saved plan (:func:`~reconciler.planfile.check_plan_data`) holds,
    rebuilt for the renderers; PlanFileError if it lacks what they need."""
    _check_renderable(path, data)
    clinics = tuple(_clinic_plan(c) for c in data["clinics"])
    if "parts" in data:
        parts = tuple(Part(p["plan_id"], tuple(p["clinics"])) for p in data["parts"])
        return CombinedPlan(clinics, config_commit=data["config_commit"], parts=parts)
    shard = data.get("shard")  # absent from a plan saved before shards were recorded
    return Plan(
        clinics,
        config_commit=data["config_commit"],
        shard=Shard.parse(shard) if shard is not None else None,
    )


# --- reading and combining -------------------------------------------------------------------


def _names(paths: Sequence[Path]) -> str:
    more = " ..." if len(paths) > _LISTED else ""
    return ", ".join(str(p) for p in paths[:_LISTED]) + more


def load_plans(paths: Sequence[Path]) -> list[LoadedPlan]:
    """Read and check each saved plan as ``apply --plan`` does (a bounded regular file, its
    schema, plan id and digest); plans of different format versions are refused together,
    naming each file and its version, before any is checked against its version."""
    raw = [(path, load_plan_json(path)) for path in paths]
    versions = [(path, format_version_of(data)) for path, data in raw]
    if any(v != versions[0][1] for _, v in versions):
        listed = ", ".join(f"{p} ({v!r})" for p, v in versions[:_LISTED])
        raise PlanFileError(
            f"plans of different format versions cannot be combined: {listed}; plan every "
            "part again with the same version of reconcile"
        )
    loaded = []
    for path, data in raw:
        checked = check_plan_data(path, data)
        loaded.append(LoadedPlan(path, plan_from_data(path, checked)))
    return loaded


def _file_order(cp: ClinicPlan) -> tuple[tuple[str, ...], str]:
    """Where ``plan`` of the whole folder lists a clinic: by its file (path by path, as a
    folder is searched), then by id."""
    return (PurePath(cp.clinic.source.file).parts, cp.clinic.id)


def _and(items: Sequence[str]) -> str:
    listed = list(items[:_LISTED]) + (["..."] if len(items) > _LISTED else [])
    return listed[0] if len(listed) == 1 else f"{', '.join(listed[:-1])} and {listed[-1]}"


def _shard_problem(loaded: Sequence[LoadedPlan]) -> str | None:
    """What keeps ``loaded`` from being the whole fleet, when any of them is a shard: each
    must be a shard of one N, and each of 1/N ... N/N given once (None: nothing, or no
    shard at all)."""
    sharded = [(item.plan.shard, item.path) for item in loaded if item.plan.shard is not None]
    if not sharded:
        return None
    whole = [item.path for item in loaded if item.plan.shard is None]
    if whole:
        shards = _and([f"{shard} ({path})" for shard, path in sharded])
        return (
            f"shard{'s' if len(sharded) > 1 else ''} {shards} mixed with "
            f"{'plans' if len(whole) > 1 else 'a plan'} of no shard ({_names(whole)})"
        )
    counts: dict[int, int] = {}
    for shard, _ in sharded:
        counts[shard.count] = counts.get(shard.count, 0) + 1
    if len(counts) > 1:
        n = max(counts, key=lambda c: counts[c])  # the N most of them have (the first, tied)
        odd = [f"{shard} ({path})" for shard, path in sharded if shard.count != n]
        return f"shard{'s' if len(odd) > 1 else ''} {_and(odd)} mixed with shards of {n}"
    n = sharded[0][0].count
    given: dict[int, list[Path]] = {}
    for shard, path in sharded:
        given.setdefault(shard.index, []).append(path)
    twice = [
        f"{i}/{n} given {len(ps)} times ({_names(ps)})"
        for i, ps in sorted(given.items())
        if len(ps) > 1
    ]
    if twice:
        return f"shard {'; shard '.join(twice[:_LISTED])}"
    missing = [f"{i}/{n}" for i in range(1, n + 1) if i not in given]
    if missing:
        have = [f"{i}/{n}" for i in sorted(given)]
        return (
            f"shard{'s' if len(have) > 1 else ''} {_and(have)} given: {_and(missing)} "
            f"{'are' if len(missing) > 1 else 'is'} missing"
        )
    return None


def combine(loaded: Sequence[LoadedPlan]) -> Plan:
    """One plan of ``loaded`` (in any order): a single plan as it is; several as a
    :class:`CombinedPlan`. Refused (PlanFileError, naming the files): a clinic in two of
    them, shards that are not all the shards of one N (one missing, one given twice, shards
    of different N, or shards with a plan of no shard), or plans of different commits of
    the clinic files. A plan of every shard is of the whole fleet (it has no shard)."""
    problem = _shard_problem(loaded) if len(loaded) == 1 else None
    if problem is not None:  # a shard alone is a part of the fleet shown as if it were all
        raise PlanFileError(
            f"cannot show the plan as the fleet's: {problem}. Give the plan of every shard "
            "(made with --shard 1/N ... N/N of one N)"
        )
    if len(loaded) == 1:
        return loaded[0].plan
    owner: dict[str, Path] = {}
    twice: list[str] = []
    for item in loaded:
        for cp in item.plan.clinics:
            cid = cp.clinic.id
            if cid in owner:
                twice.append(f"{cid} (in {owner[cid]} and {item.path})")
            else:
                owner[cid] = item.path
    if twice:
        more = f" and {len(twice) - _LISTED} more" if len(twice) > _LISTED else ""
        raise PlanFileError(
            f"a clinic may be in one of the plans combined only: {'; '.join(twice[:_LISTED])}"
            f"{more}. Give each shard's plan once (made with --shard 1/N ... N/N of one N)"
        )
    problem = _shard_problem(loaded)
    if problem is not None:
        raise PlanFileError(
            f"the plans cannot be combined into the fleet's: {problem}. Give the plan of every "
            "shard once (made with --shard 1/N ... N/N of one N)"
        )
    commits = {item.plan.config_commit for item in loaded}
    if len(commits) > 1:
        listed = ", ".join(
            f"{item.path} ({(item.plan.config_commit or 'no commit')[:12]})"
            for item in loaded[:_LISTED]
        )
        raise PlanFileError(
            f"plans of different commits of the clinic files cannot be combined: {listed}; "
            "plan every shard from the same commit"
        )
    clinics = sorted((cp for item in loaded for cp in item.plan.clinics), key=_file_order)
    parts = sorted((p for item in loaded for p in item.parts), key=lambda p: (p.plan_id, p.clinics))
    return CombinedPlan(tuple(clinics), config_commit=commits.pop(), parts=tuple(parts))


def show_plans(paths: Sequence[Path]) -> Plan:
    """The plan that ``reconcile show PATHS`` prints: each read, checked, then combined."""
    return combine(load_plans(paths))


# --- rendering and saving --------------------------------------------------------------------


def render_json(plan: Plan) -> str:
    """The JSON plan, as ``plan --format json`` writes it; a combined plan also lists its
    parts, right after its id, and its digest covers them."""
    if not isinstance(plan, CombinedPlan):
        return render_single_json(plan)
    body = {k: v for k, v in plan_to_dict(plan).items() if k != "digest"}
    data: dict[str, Any] = {}
    for key, item in body.items():
        data[key] = item
        if key == "plan_id":
            data["parts"] = [{"plan_id": p.plan_id, "clinics": list(p.clinics)} for p in plan.parts]
    data["digest"] = content_digest(data)
    return dump(data)


RENDERERS: dict[str, Callable[[Plan], str]] = {
    "text": render_text,
    "markdown": render_markdown,
    "json": render_json,
}
"""The renderers of ``reconcile plan``, with the JSON one aware of combined plans."""


def save(plan: Plan, path: Path) -> None:
    """Save ``plan`` (combined or not) as a plan file ``show`` and ``apply --plan`` read."""
    write_plan(plan, path, render=render_json)
