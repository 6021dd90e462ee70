"""What the Accuro API shows of one clinic, resolved against its clinic file. No I/O.

The adapter reads; :func:`resolve` matches the file's offices and providers to what was
read, exactly as seed 003 asks (the exact Accuro Office Name), and raises
:class:`~reconciler.errors.ClinicInputError` naming the file, line and field, with the
closest live names, when the file does not match Accuro.

What the API can show of the Provider Permissions grid (FACTS.md §2-§4) is small: which
providers the OceanAPI user may read or write appointments for (the Scheduling column, per
provider, merged over offices), and which offices the user belongs to. :meth:`AccuroLive.
scheduling` turns that into an observation of one cell where it honestly can; every other
cell is unverified.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from reconciler.emr.accuro import api_model as m
from reconciler.emr.accuro.spec import AccuroSpec, OfficeGrant, ProviderGrant
from reconciler.errors import ClinicInputError

Where = Callable[[tuple[str | int, ...]], str]
MAX_CANDIDATES = 5


class Observed(StrEnum):
    """What the API shows of one cell."""

    GRANTED = "granted"  # Scheduling at Full access (WRITE_APPOINTMENTS)
    READ_ONLY = "read-only"  # Scheduling at Read-Only access (READ but not WRITE)
    NONE = "none"  # not granted


@dataclass(frozen=True, slots=True)
class LiveProvider:
    provider_id: int
    name: str  # "Last, First", as Accuro's screens show it

    @classmethod
    def of(cls, provider: m.Provider) -> LiveProvider:
        return cls(provider.provider_id, provider.display_name or f"#{provider.provider_id}")


@dataclass(frozen=True, slots=True)
class LiveOffice:
    declared: str  # the name in the clinic file (equal to Accuro's: matched exactly)
    office_id: int
    active: bool | None
    providers: tuple[LiveProvider, ...]  # every provider the API lists for the office
    declared_ids: Mapping[str, int]  # ProviderGrant.key -> providerId


@dataclass(frozen=True, slots=True)
class AccuroLive:
    """One clinic's Accuro as the API shows it, resolved against its file."""

    user: m.User
    offices: tuple[LiveOffice, ...]  # in the file's order
    user_office_ids: frozenset[int] | None  # None: the token's user is not the OceanAPI user
    read_ids: frozenset[int] | None  # accessible-providers READ_APPOINTMENTS; None: unknown
    write_ids: frozenset[int] | None  # ... WRITE_APPOINTMENTS
    fingerprints: dict[str, str] = field(default_factory=dict, compare=False)
    _holders: Mapping[int, tuple[int, ...]] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    """Per provider, the user's offices that list it; None when the user has an office that
    was not read (which may list it too), or the token's user is not the OceanAPI user."""

    def __post_init__(self) -> None:
        known = {o.office_id for o in self.offices}
        if self.user_office_ids is None or not self.user_office_ids <= known:
            return
        holders: dict[int, list[int]] = {}
        for o in self.offices:
            if o.office_id in self.user_office_ids:
                for p in o.providers:
                    holders.setdefault(p.provider_id, []).append(o.office_id)
        object.__setattr__(self, "_holders", {k: tuple(v) for k, v in holders.items()})

    def office(self, name: str) -> LiveOffice:
        return next(o for o in self.offices if o.declared == name)

    def scheduling(self, office_id: int, provider_id: int) -> Observed | None:
        """The Scheduling cell (office, provider), where the API proves it; else None.

        ``accessible-providers`` merges every office: a provider missing from it has
        Scheduling nowhere (observed NONE in every office); a provider in it is attributed
        to one office only when that is the one office, among all the user's offices, that
        lists the provider.
        """
        if self.read_ids is None or self.write_ids is None:
            return None
        if provider_id not in self.read_ids:
            return Observed.NONE
        if self._holders is None:  # an office we did not read may grant it
            return None
        if self._holders.get(provider_id, ()) != (office_id,):
            return None
        return Observed.GRANTED if provider_id in self.write_ids else Observed.READ_ONLY


def _key(text: str) -> str:
    """For suggestions only (matching is exact): case, accents and spacing folded."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(c for c in folded if not unicodedata.combining(c)).split())


def closest(name: str, choices: Sequence[str], n: int = 3) -> list[str]:
    """The live names closest to ``name``, best first."""
    by_key: dict[str, str] = {}
    for choice in choices:
        by_key.setdefault(_key(choice), choice)
    keys = difflib.get_close_matches(_key(name), list(by_key), n=n, cutoff=0.5)
    return [by_key[k] for k in keys]


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(f"'{n}'" for n in names)


def resolve_office(
    grant: OfficeGrant, index: int, offices: Sequence[m.Office], where: Where
) -> m.Office:
    """The one office named exactly ``grant.name``."""
    exact = [o for o in offices if o.name == grant.name]
    if len(exact) == 1:
        return exact[0]
    at = where(("ocean_api_user", "offices", index, "name"))
    if len(exact) > 1:
        ids = ", ".join(str(o.office_id) for o in exact)
        raise ClinicInputError(
            f"{at}: {len(exact)} Accuro offices are named '{grant.name}' (officeIds {ids}); "
            "rename one in Accuro so each office name is unique"
        )
    names = [o.name for o in offices]
    near = closest(grant.name, names)
    hint = (
        f"closest: {_quoted(near)}"
        if near
        else f"Accuro has: {_quoted(names[:10])}{' ...' if len(names) > 10 else ''}"
    )
    raise ClinicInputError(
        f"{at}: no Accuro office is named exactly '{grant.name}' ({hint}); write the Office "
        "Name exactly as Accuro shows it"
    )


def resolve_provider(
    grant: ProviderGrant,
    path: tuple[str | int, ...],
    office: m.Office,
    providers: Sequence[m.Provider],
    where: Where,
) -> int:
    """The providerId ``grant`` names among ``office``'s providers."""
    at = where(path)
    if grant.provider_id is not None:
        if any(p.provider_id == grant.provider_id for p in providers):
            return grant.provider_id
        listed = ", ".join(f"{p.display_name} ({p.provider_id})" for p in providers[:10])
        raise ClinicInputError(
            f"{at}: provider id {grant.provider_id} is not a provider of the Accuro office "
            f"'{office.name}' (it lists {len(providers)}"
            + (f": {listed}{' ...' if len(providers) > 10 else ''}" if providers else "")
            + ")"
        )
    assert grant.name is not None
    exact = [p for p in providers if p.display_name == grant.name]
    if len(exact) == 1:
        return exact[0].provider_id
    if len(exact) > 1:
        which = ", ".join(f"{p.display_name} (id {p.provider_id})" for p in exact)
        raise ClinicInputError(
            f"{at}: '{grant.name}' matches {len(exact)} providers of '{office.name}': {which}; "
            "write `id: <providerId>` instead of the name"
        )
    near = closest(grant.name, [p.display_name for p in providers])
    candidates = [p for name in near for p in providers if p.display_name == name]
    hint = (
        "closest: " + ", ".join(f"'{p.display_name}' (id {p.provider_id})" for p in candidates)
        if candidates
        else f"it lists {len(providers)} provider(s)"
    )
    raise ClinicInputError(
        f"{at}: no provider of the Accuro office '{office.name}' is named '{grant.name}' "
        f"({hint}); names are 'Last, First' as Accuro shows them"
    )


def resolve(
    spec: AccuroSpec,
    offices: Sequence[m.Office],
    providers_of: Callable[[int], Sequence[m.Provider]],
    where: Where,
) -> tuple[LiveOffice, ...]:
    """Each declared office and provider matched to Accuro's ids (reading each office's
    providers through ``providers_of``)."""
    out = []
    for index, grant in enumerate(spec.ocean_api_user.offices):
        office = resolve_office(grant, index, offices, where)
        listed = tuple(sorted(providers_of(office.office_id), key=lambda p: p.provider_id))
        ids: dict[str, int] = {}
        for pindex, pgrant in enumerate(grant.providers):
            path = ("ocean_api_user", "offices", index, "providers", pindex)
            field_path = (*path, "id" if pgrant.provider_id is not None else "name")
            ids[pgrant.key] = resolve_provider(pgrant, field_path, office, listed, where)
        twice = {pid for pid in ids.values() if list(ids.values()).count(pid) > 1}
        if twice:
            at = where(("ocean_api_user", "offices", index, "providers"))
            raise ClinicInputError(
                f"{at}: provider id(s) {', '.join(map(str, sorted(twice)))} declared twice in "
                f"'{grant.name}' (once by name, once by id?)"
            )
        out.append(
            LiveOffice(
                declared=grant.name,
                office_id=office.office_id,
                active=office.active,
                providers=tuple(LiveProvider.of(p) for p in listed),
                declared_ids=ids,
            )
        )
    return tuple(out)
