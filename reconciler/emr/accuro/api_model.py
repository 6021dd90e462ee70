"""What the Accuro REST API returns, as typed values (FACTS.md §2 for every field).

Only the fields the OceanAPI adapter needs are kept; each parser accepts the DTO as the API
serialises it (nulls included, unknown fields ignored) and raises :class:`MalformedResponse`
naming the field, never quoting the value, when a needed field is missing or of the wrong
type. The client turns that into an ``AdapterError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class MalformedResponse(ValueError):
    """A response did not have the shape the API documents; the message names the field."""


class PermissionsType(StrEnum):
    """``accessible-providers?permissionsType=``: the only two values the API accepts."""

    READ_APPOINTMENTS = "READ_APPOINTMENTS"
    WRITE_APPOINTMENTS = "WRITE_APPOINTMENTS"


@dataclass(frozen=True, slots=True)
class Office:
    """An ``OfficeDto``: ``name`` is Accuro's Office Name, compared exactly."""

    office_id: int
    name: str
    active: bool | None
    abbreviation: str | None = None
    facility_number: str | None = None


@dataclass(frozen=True, slots=True)
class Provider:
    """A ``ProviderDto``. There is no ``active`` flag: status is ``status_id``."""

    provider_id: int
    first_name: str | None
    last_name: str | None
    middle_name: str | None = None
    title: str | None = None
    status_id: int | None = None
    default_office: int | None = None
    email: str | None = None  # EmailDto.address

    @property
    def display_name(self) -> str:
        """``Last, First``, as Accuro's screens (not its API) show a provider."""
        last, first = self.last_name or "", self.first_name or ""
        return f"{last}, {first}" if last and first else last or first


@dataclass(frozen=True, slots=True)
class User:
    """An ``AccuroUserDto``; ``locked_date`` is kept as sent (a string, or None)."""

    user_id: int
    username: str
    active: bool
    system_admin: bool
    provider_id: int | None = None
    first_name: str | None = None
    last_name: str | None = None
    locked_date: str | None = None

    @property
    def locked(self) -> bool:
        """Whether Accuro has locked the account (``lockedDate`` set)."""
        return self.locked_date is not None


@dataclass(frozen=True, slots=True)
class WhoAmI:
    """``/v1/whoami``: the tenant and, for a user-bound token, which user it acts as."""

    tenant: str | None
    scopes: tuple[str, ...]
    grant_type: str | None
    province: str | None
    user_id: int | None  # authGrantTypeDetail.userId; None for a user-less token
    username: str | None  # authGrantTypeDetail.id
    provider_id: int | None
    office_ids: tuple[int, ...]  # from authGrantTypeDetail.officeRoles


def _obj(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedResponse(f"{what} is not an object")
    return value


def _int(data: dict[str, Any], key: str, what: str, *, optional: bool = False) -> int | None:
    value = data.get(key)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedResponse(f"{what}.{key} is not an integer")
    return value


def _req_int(data: dict[str, Any], key: str, what: str) -> int:
    value = _int(data, key, what)
    assert value is not None
    return value


def _str(data: dict[str, Any], key: str, what: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise MalformedResponse(f"{what}.{key} is not a string")
    return value


def _bool(data: dict[str, Any], key: str, what: str) -> bool | None:
    value = data.get(key)
    if value is not None and not isinstance(value, bool):
        raise MalformedResponse(f"{what}.{key} is not a boolean")
    return value


def _locked_date(data: dict[str, Any], what: str) -> str | None:
    """A string as documented, or Jackson's ``[y, m, d, h, mi, s, ms]`` (FACTS §2 [I])."""
    value = data.get("lockedDate")
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list) and value and all(isinstance(x, int) for x in value):
        parts = [*value, 0, 0, 0, 0, 0, 0][:7]
        y, mo, d, h, mi, s, ms = parts
        return f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}.{ms % 1000:03d}"
    raise MalformedResponse(f"{what}.lockedDate is neither a date string nor a date array")


def parse_office(value: Any, what: str = "office") -> Office:
    """An ``OfficeDto``."""
    data = _obj(value, what)
    name = _str(data, "name", what)
    return Office(
        office_id=_req_int(data, "officeId", what),
        name=name if name is not None else "",
        active=_bool(data, "active", what),
        abbreviation=_str(data, "abbreviation", what),
        facility_number=_str(data, "facilityNumber", what),
    )


def parse_provider(value: Any, what: str = "provider") -> Provider:
    """A ``ProviderDto``; ``email`` is an ``EmailDto`` object whose ``address`` is kept."""
    data = _obj(value, what)
    email = data.get("email")
    address = _str(_obj(email, f"{what}.email"), "address", f"{what}.email") if email else None
    return Provider(
        provider_id=_req_int(data, "providerId", what),
        first_name=_str(data, "firstName", what),
        last_name=_str(data, "lastName", what),
        middle_name=_str(data, "middleName", what),
        title=_str(data, "title", what),
        status_id=_int(data, "statusId", what, optional=True),
        default_office=_int(data, "defaultOffice", what, optional=True),
        email=address,
    )


def parse_user(value: Any, what: str = "user") -> User:
    """An ``AccuroUserDto`` (JSON field ``username``; the query parameter is ``userName``)."""
    data = _obj(value, what)
    username = _str(data, "username", what)
    if username is None:
        raise MalformedResponse(f"{what}.username is missing")
    return User(
        user_id=_req_int(data, "userId", what),
        username=username,
        active=bool(_bool(data, "active", what)),
        system_admin=bool(_bool(data, "systemAdmin", what)),
        provider_id=_int(data, "providerId", what, optional=True),
        first_name=_str(data, "firstName", what),
        last_name=_str(data, "lastName", what),
        locked_date=_locked_date(data, what),
    )


def parse_whoami(value: Any, what: str = "whoami") -> WhoAmI:
    """A ``UserInfoDto``."""
    data = _obj(value, what)
    scopes = data.get("scopes") or []
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise MalformedResponse("whoami.scopes is not a list of strings")
    detail = data.get("authGrantTypeDetail")
    user_id = username = provider_id = None
    offices: list[int] = []
    if detail is not None:
        d = _obj(detail, "whoami.authGrantTypeDetail")
        what = "whoami.authGrantTypeDetail"
        user_id = _int(d, "userId", what, optional=True)
        username = _str(d, "id", what)
        provider_id = _int(d, "providerId", what, optional=True)
        roles = d.get("officeRoles") or []
        if not isinstance(roles, list):
            raise MalformedResponse(f"{what}.officeRoles is not a list")
        offices = [_req_int(_obj(r, f"{what}.officeRoles[]"), "officeId", what) for r in roles]
    return WhoAmI(
        tenant=_str(data, "tenant", "whoami"),
        scopes=tuple(scopes),
        grant_type=_str(data, "grantType", "whoami"),
        province=_str(data, "province", "whoami"),
        user_id=user_id,
        username=username,
        provider_id=provider_id,
        office_ids=tuple(sorted(set(offices))),
    )


def parse_list(value: Any, what: str) -> list[Any]:
    """A bare JSON array (offices, providers of an office)."""
    if not isinstance(value, list):
        raise MalformedResponse(f"{what} is not an array")
    return value


def parse_ids(value: Any, what: str) -> tuple[int, ...]:
    """A bare array of ids (``accessible-providers``), sorted and deduplicated."""
    items = parse_list(value, what)
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in items):
        raise MalformedResponse(f"{what} holds a value that is not an integer")
    return tuple(sorted(set(items)))


@dataclass(frozen=True, slots=True)
class Envelope:
    """An ``EnvelopeDto`` page: ``last_id`` is the next ``startingId`` (exclusive)."""

    contents: tuple[Any, ...]
    count: int
    total: int
    last_id: int | None


def parse_envelope(value: Any, what: str) -> Envelope:
    """``{contents, count, total, lastId}``."""
    data = _obj(value, what)
    contents = data.get("contents")
    if not isinstance(contents, list):
        raise MalformedResponse(f"{what}.contents is not an array")
    count = _int(data, "count", what, optional=True)
    total = _int(data, "total", what, optional=True)
    return Envelope(
        contents=tuple(contents),
        count=count if count is not None else len(contents),
        total=total if total is not None else len(contents),
        last_id=_int(data, "lastId", what, optional=True),
    )
