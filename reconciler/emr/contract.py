"""What an EMR package provides, and the adapter contract. The core meets EMRs only here.

An EMR package (``reconciler/emr/<kind>/``) holds everything that knows one EMR: its
desired-state model, its live-state model, its pure diff rules and impact texts, its
checklists, its adapters and its simulator. Its ``__init__`` exports one :class:`EmrPackage`
named ``EMR``; :mod:`reconciler.emr.registry` maps ``emr.kind`` to it.

An adapter never imports the engine. It translates every third-party failure into an
:class:`~reconciler.errors.AdapterError` (or subclass) whose message holds no secret.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.fleet import LOCAL, Network, Site
from reconciler.model import Clinic, Confirmations
from reconciler.plan import Change

if TYPE_CHECKING:
    from reconciler.config.yamlsource import YamlDocument
    from reconciler.diagnostics import Diagnostic


class Adapter(ABC):
    """Reads and writes one kind of EMR backend, for every clinic served by it.

    One adapter serves many clinics at once, from several threads: it keeps its connection
    pools per host or database server (not per clinic) and must be thread-safe.
    """

    name: str = "adapter"
    writes: frozenset[str] = frozenset()
    """Resources this adapter changes itself; every other change is a step for a person."""

    @abstractmethod
    def read(self, clinic: Clinic) -> Any:
        """Live state for ``clinic``, or ``None`` when this backend cannot read it."""

    def apply(self, clinic: Clinic, changes: Sequence[Change]) -> None:
        """Make ``changes`` (all automatic, all this clinic's) in one all-or-nothing unit.

        Each change carries the fingerprint of the live object it was planned from; the
        adapter re-reads inside its transaction and raises StalePlanError if one moved.
        Raises AdapterError when anything fails, having written nothing.
        """
        if changes:
            raise NotImplementedError(f"{self.name} cannot apply changes")

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


class ManualAdapter(Adapter):
    """A backend the tool cannot read or write: every change is a checklist step."""

    name = "manual"

    def read(self, clinic: Clinic) -> None:
        return None


@dataclass(frozen=True, slots=True)
class EmrPackage:
    """One EMR, as the core sees it. ``spec`` and ``live`` are the package's own types."""

    kind: str
    """The value of ``emr.kind`` in a clinic file."""
    title: str
    """The EMR's name in messages (``OSCAR``)."""
    blocks: tuple[str, ...]
    """Top-level keys of a clinic file that only this EMR uses."""
    emr_keys: tuple[str, ...]
    """Keys under ``emr:`` that only this EMR uses."""
    check: Callable[[YamlDocument, date], Iterator[Diagnostic]]
    """Checks of meaning beyond the schema, on the raw (possibly invalid) document."""
    build: Callable[[dict[str, Any], Path], Any]
    """The desired-state spec from a validated document (``base_dir``: the file's folder)."""
    adapter_name: Callable[[Any], str]
    """Which adapter serves a clinic with this spec (adapters are shared by name)."""
    new_adapter: Callable[[str, Network], Adapter]
    """A new adapter of that name, with these timeouts and retries."""
    diff: Callable[[Any, Any, Confirmations], Iterable[Change]]
    """The pure diff: (spec, live or None, what people confirmed) -> changes. No I/O."""
    check_here_and_now: Callable[[YamlDocument, date], Iterator[Diagnostic]] = lambda doc, today: (
        iter(())
    )
    """Checks that depend on where and when ``validate`` runs: secret values it can read,
    dates that have come (``plan`` finds the same problems as that clinic's error, so one
    clinic's secret or date never stops the rest)."""
    notes: Callable[[Any, Any, Confirmations], tuple[str, ...]] = lambda spec, live, confirmed: ()
    """What a plan of this clinic rests on, in a line or two (observed vs confirmed)."""
    observed: Callable[[Any, Any, Confirmations], dict[str, Any] | None] = (
        lambda spec, live, confirmed: None
    )
    """What the report draws for this clinic: (spec, live or None, confirmations) -> a
    small JSON-able mapping, saved with the plan (``observed`` of each clinic), or None.
    No I/O, no secret value. Its keys, all optional (the report knows no EMR, only these):

    - ``grid``: a grid of boxes, ``{"title", "group", "row", "columns": [names],
      "groups": [{"name", "rows": [ROW, ...]}]}``; each ROW is one string, ``CODES ID NAME``:
      one code per column, then the row's id (``-`` when none) and its name (the rest of
      the string). A code is the box's state, upper case where the file grants the box and
      lower case where it clears it: ``V`` observed as wanted, ``C`` not observable and
      confirmed by a person, ``M`` missing (known not granted), ``X`` extra (known
      granted), ``D`` contradicted (confirmed, but observed otherwise), ``U`` unverified
      (neither observed nor confirmed); ``-`` a row the file does not declare.
    - ``compare``: rows ``[section, field, desired, live, state]`` of text, desired vs
      live; ``state`` is ``same``, ``missing`` (desired, not live), ``extra`` (live, not
      desired), ``different`` or ``unknown`` (live state not read).
    """
    site: Callable[[Any], Site] = lambda spec: LOCAL
    """Where a clinic with this spec lives (its API host, its database server): clinics
    that share a site share its concurrency limit. It resolves no secret."""
    checklist: Callable[[Clinic, Sequence[Change]], list[tuple[str, str]]] | None = None
    """The sections (title, Markdown body) of the checklist ``apply`` writes for a clinic's
    manual changes, in the order a person works; None: one section per change."""
