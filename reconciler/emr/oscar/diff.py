"""OSCAR's pure diff rules, impact texts and checklists (seed 004). No I/O.

``live is None`` means the adapter cannot read this OSCAR (backend manual): the diff then
gives the whole set-up as a checklist for a person, in the order seed 004 does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from reconciler.emr.oscar.live import OscarLive, OscarLoginRow
from reconciler.emr.oscar.spec import OscarSpec
from reconciler.model import NO_CONFIRMATIONS, Confirmations
from reconciler.plan import Action, Change, FieldChange, Mode, SafetyRule
from reconciler.secrets import SecretRef

PROVIDER, ROLE, PRIMARY_ROLE, LOGIN, INTEGRATION = (
    "oscar.provider",
    "oscar.role",
    "oscar.primary_role",
    "oscar.login",
    "oscar.integration_credentials",
)

STORAGE_VERSION = 2  # security.storageVersion of a PBKDF2 password and PIN (OSCAR 15+)

IMPACT = {
    PROVIDER: "Ocean signs in to OSCAR as this provider; OSCAR refuses the login of a provider "
    "that is missing or inactive (status 0).",
    ROLE: "OSCAR grants privileges by the exact names of a provider's roles (every secUserRole "
    "row counts, active or not); Ocean needs the doctor role's privileges.",
    PRIMARY_ROLE: "OSCAR's case management shows a provider notes only through its primary "
    "role (the program_provider row of the OSCAR program); without it Ocean sees no notes. "
    "OSCAR caches this for up to an hour, so a change can take that long to act.",
    LOGIN: "Ocean Cloud Connect signs in with this login record; if any field is wrong, the "
    "integration fails quietly.",
    INTEGRATION: "With OSCAR Pro Authentication, Ocean signs in with the Security Record "
    "Integration password and PIN.",
}

LOGIN_IMPACT = {
    "pin_local": "Pin(local) is to be disabled for Ocean's login (seed 004).",
    "pin_remote": "Pin(remote) must be enabled: OSCAR checks the PIN of every login from "
    "outside login_local_ip, as Ocean's are.",
    "force_password_reset": "OSCAR sends a login with Force Password Reset to its reset page "
    "(mandatory_password_reset, on by default); Ocean cannot answer it.",
    "password": "OSCAR would not accept the declared password for this login: Ocean cannot "
    "sign in.",
    "pin": "OSCAR would not accept the declared PIN for this login: Ocean cannot sign in.",
    "provider": "The login must belong to the OceanConnect provider.",
    "storage_version": "OSCAR 15+ sends a login whose storageVersion is not 2 to its password "
    "reset page (password.forcePasswordResetToUpdateStorage, on by default), and refuses any "
    "value but 1 and 2; Ocean cannot answer it.",
    "using_mfa": "Open-O sends a user with MFA on to its MFA page instead of asking for the "
    "PIN; Ocean cannot get past it.",
}
EXPIRY_REFUSED = (
    "From its expiry date on, OSCAR refuses this login ('Your account is expired'); Ocean "
    "cannot sign in."
)
EXPIRY_WARNED = (
    "OSCAR 15+ only warns about the expiry date of a storageVersion 2 login, but the record "
    "should match the file: a login rewritten at storageVersion 1 would be refused."
)


def diff_oscar(
    spec: OscarSpec, live: OscarLive | None, confirmed: Confirmations = NO_CONFIRMATIONS
) -> Iterator[Change]:
    """OSCAR's tables are read whole: confirmations prove nothing there and are not used."""
    if live is None:
        yield from oscar_checklist(spec)
    elif spec.present:
        yield from _oscar_present(spec, live)
    else:
        yield from _oscar_absent(spec, live)


def _changed(pairs: dict[str, tuple[Any, Any]]) -> tuple[FieldChange, ...]:
    return tuple(FieldChange(k, b, a) for k, (b, a) in pairs.items() if b != a)


def _oscar_present(spec: OscarSpec, live: OscarLive) -> Iterator[Change]:
    number = spec.provider.number
    address = f"{PROVIDER}[{number}]"
    want = {
        "last_name": spec.provider.last_name,
        "first_name": spec.provider.first_name,
        "provider_type": spec.provider.provider_type,
        "active": True,
    }
    row = live.provider
    if row is None:
        fields = tuple(FieldChange(k, None, v) for k, v in want.items())
        yield _change(address, PROVIDER, Action.CREATE, live, fields, order=10)
    else:
        have = {
            "last_name": row.last_name,
            "first_name": row.first_name,
            "provider_type": row.provider_type,
            "active": row.active,
        }
        if fields := _changed({k: (have[k], want[k]) for k in want}):
            yield _change(address, PROVIDER, Action.UPDATE, live, fields, order=10)

    for role in sorted(set(spec.roles) - live.roles):
        yield _change(
            f"{ROLE}[{number}/{role}]",
            ROLE,
            Action.GRANT,
            live,
            (FieldChange("role", None, role),),
            order=20,
        )
    for role in sorted(live.roles - set(spec.roles)):
        yield _revoke_role(
            number,
            role,
            live,
            order=21,
            impact=f"The role '{role}' is not declared for the OceanConnect provider.",
        )

    yield from _primary_role(spec, live)

    if spec.pro_auth:
        yield from _pro_auth(spec, live)
    else:
        yield from _login(spec, live)


def _primary_role(spec: OscarSpec, live: OscarLive) -> Iterator[Change]:
    """One ``program_provider`` row of the OSCAR program, with the primary role's role_no.

    A row whose role_id is NULL is a wrong primary role (updated in place, not a second
    row), and duplicate rows are collapsed to one.
    """
    rows = live.primary_rows
    if rows and live.primary_role == spec.primary_role and rows == 1:
        return
    fields = (
        [FieldChange("role", live.primary_role, spec.primary_role)]
        if (live.primary_role != spec.primary_role)
        else []
    )
    if rows > 1:
        fields.append(FieldChange("rows", rows, 1))
    yield _change(
        f"{PRIMARY_ROLE}[{spec.provider.number}]",
        PRIMARY_ROLE,
        Action.CREATE if rows == 0 else Action.UPDATE,
        live,
        tuple(fields),
        order=30,
    )


def _login_wanted(spec: OscarSpec) -> dict[str, Any]:
    login = spec.login
    return {
        "provider": spec.provider.number,
        "pin_remote": login.pin_remote,
        "pin_local": login.pin_local,
        "force_password_reset": login.force_password_reset,
        "expires": login.expires,
    }


def _login(spec: OscarSpec, live: OscarLive) -> Iterator[Change]:
    address = f"{LOGIN}[{spec.login.username}]"
    want = _login_wanted(spec)
    row = live.login
    if row is None:
        fields = [FieldChange(k, None, v) for k, v in want.items()]
        fields += [
            FieldChange(name, None, ref.describe(), sensitive=True)
            for name, ref in (("password", spec.login.password), ("pin", spec.login.pin))
            if ref is not None
        ]
        yield _change(address, LOGIN, Action.CREATE, live, tuple(fields), order=40)
        return
    fields = _login_flags(row, want)
    fields += _secret_fields(row)
    if row.using_mfa:
        fields.append(FieldChange("using_mfa", True, False))
    if fields:
        texts = _login_texts(row)
        impact = " ".join(texts[f.name] for f in fields if f.name in texts)
        if row.storage_version is not None and any(f.name == "pin" for f in fields):
            impact += (
                " Password and PIN are written together with storageVersion 2, as OSCAR's own "
                "security screen does."
            )
        yield _change(address, LOGIN, Action.UPDATE, live, tuple(fields), order=40, impact=impact)


def _login_flags(row: OscarLoginRow, want: dict[str, Any]) -> list[FieldChange]:
    """The login row's fields (not its secrets) that differ from ``want``."""
    have = {
        "provider": row.provider_no,
        "pin_remote": row.pin_remote,
        "pin_local": row.pin_local,
        "force_password_reset": row.force_password_reset,
        "expires": row.expires,
    }
    return list(_changed({k: (have[k], want[k]) for k in want}))


def _login_texts(row: OscarLoginRow) -> dict[str, str]:
    """Why each login field matters, for this row (its storageVersion, which secrets fail)."""
    texts = dict(LOGIN_IMPACT)
    texts["expires"] = EXPIRY_WARNED if row.storage_version == STORAGE_VERSION else EXPIRY_REFUSED
    for name, matches in (("password", row.password_matches), ("pin", row.pin_matches)):
        if matches is not False:  # listed only because both are always written together
            texts.pop(name)
    return texts


def _secret_fields(row: OscarLoginRow) -> list[FieldChange]:
    """Password and PIN changes, as OSCAR stores them for this row.

    Where OSCAR has ``security.storageVersion``, it checks a login by that row's value, and
    its own security screen always rewrites password and PIN together with
    ``storageVersion = 2``: so does the adapter, and a row still at 1 is drift.
    """
    stale = [
        name
        for name, matches in (("password", row.password_matches), ("pin", row.pin_matches))
        if matches is False
    ]
    if row.storage_version is None:
        return [FieldChange(name, "stored", "declared", sensitive=True) for name in stale]
    if not stale and row.storage_version == STORAGE_VERSION:
        return []
    fields = [FieldChange(n, "stored", "declared", sensitive=True) for n in ("password", "pin")]
    if row.storage_version != STORAGE_VERSION:
        fields.append(FieldChange("storage_version", row.storage_version, STORAGE_VERSION))
    return fields


def _pro_auth(spec: OscarSpec, live: OscarLive) -> Iterator[Change]:
    username = spec.login.username
    address = f"{INTEGRATION}[{username}]"
    if live.login is None:
        yield _change(
            address,
            INTEGRATION,
            Action.STEP,
            live,
            (),
            order=50,
            mode=Mode.MANUAL,
            impact="With Pro Auth the OceanConnect login is created by OSCAR Pro Support.",
            steps=(
                f"Ask OSCAR Pro Support to create the '{username}' user for Ocean, and to "
                "send you its password.",
                *_integration_steps(spec),
            ),
        )
    else:
        row = live.login
        stale = [
            n
            for n, ok in (("password", row.password_matches), ("pin", row.pin_matches))
            if ok is False
        ]
        fields = [FieldChange(n, "stored", "declared", sensitive=True) for n in stale]
        # Pro Support's login row: the tool does not write it, but what OSCAR does with it
        # (a forced reset, an expiry, storageVersion 1, MFA) still decides whether Ocean signs in.
        flags = _login_flags(row, _login_wanted(spec))
        if row.storage_version is not None and row.storage_version != STORAGE_VERSION:
            flags.append(FieldChange("storage_version", row.storage_version, STORAGE_VERSION))
        if row.using_mfa:
            flags.append(FieldChange("using_mfa", True, False))
        if not fields and not flags:
            return
        steps = _integration_steps(spec) if fields else ()
        if flags:
            steps = (
                *steps,
                f"Ask OSCAR Pro Support to set the '{username}' login as declared: "
                + "; ".join(f"{f.name} {_shown(f.after)}" for f in flags)
                + ".",
            )
        texts = _login_texts(row)
        impact = " ".join(texts[f.name] for f in flags if f.name in texts)
        yield _change(
            address,
            INTEGRATION,
            Action.STEP,
            live,
            (*fields, *flags),
            order=50,
            mode=Mode.MANUAL,
            steps=steps,
            impact=impact or None,
        )


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _ref(ref: SecretRef | None, what: str) -> str:
    return f"the {what} stored in {ref.describe()}" if ref else f"the {what} you chose"


def _integration_steps(spec: OscarSpec) -> tuple[str, ...]:
    login = spec.login
    return (
        "In OSCAR Pro: Administration > User Management > Set Security Record Integration "
        "Password.",
        f"Username: select '{login.username}'.",
        f"Password and Confirm Password: {_ref(login.password, 'password')}.",
        f"Pin and Confirm Pin: {_ref(login.pin, 'PIN')}.",
        "Click 'Update Record'.",
    )


def _oscar_absent(spec: OscarSpec, live: OscarLive) -> Iterator[Change]:
    number = spec.provider.number
    if live.login is not None and not spec.pro_auth:
        yield _change(
            f"{LOGIN}[{spec.login.username}]",
            LOGIN,
            Action.DELETE,
            live,
            (FieldChange("provider", live.login.provider_no, None),),
            order=10,
            rule=SafetyRule.DELETE_LOGIN,
            impact="Ocean can no longer sign in to OSCAR.",
        )
    if live.primary_role is not None:
        yield _change(
            f"{PRIMARY_ROLE}[{number}]",
            PRIMARY_ROLE,
            Action.DELETE,
            live,
            (FieldChange("role", live.primary_role, None),),
            order=20,
            rule=SafetyRule.REVOKE_ROLE,
        )
    for role in sorted(live.roles):
        yield _revoke_role(number, role, live, order=30)
    if live.provider is not None and live.provider.active:
        yield _change(
            f"{PROVIDER}[{number}]",
            PROVIDER,
            Action.DELETE,
            live,
            (FieldChange("active", True, False),),
            order=40,
            rule=SafetyRule.DELETE_PROVIDER,
            impact="OSCAR keeps providers for history: the provider is deactivated "
            "(status 0), not removed.",
        )


def _revoke_role(
    number: str, role: str, live: OscarLive, *, order: int, impact: str | None = None
) -> Change:
    return _change(
        f"{ROLE}[{number}/{role}]",
        ROLE,
        Action.REVOKE,
        live,
        (FieldChange("role", role, None),),
        order=order,
        rule=SafetyRule.REVOKE_ROLE,
        impact=impact,
    )


def oscar_checklist(spec: OscarSpec) -> Iterator[Change]:
    """Seed 004 as steps for a person, for an OSCAR the tool cannot read (backend manual)."""
    p, login, number = spec.provider, spec.login, spec.provider.number
    name = f"{p.last_name}, {p.first_name}"

    def step(address: str, resource: str, order: int, *steps: str) -> Change:
        return Change(
            address,
            resource,
            Action.STEP,
            Mode.MANUAL,
            impact=IMPACT[resource],
            steps=steps,
            order=order,
        )

    if spec.pro_auth:
        yield step(f"{INTEGRATION}[{login.username}]", INTEGRATION, 50, *_integration_steps(spec))
        return
    if not spec.present:
        yield step(
            f"{LOGIN}[{login.username}]",
            LOGIN,
            10,
            f"In OSCAR: Administration > User Management > search login records; delete "
            f"'{login.username}'.",
            f"Administration > Assign Role to Provider: remove every role of '{name}'.",
            f"Administration > search providers: set '{name}' ({number}) inactive.",
        )
        return
    yield step(
        f"{PROVIDER}[{number}]",
        PROVIDER,
        10,
        "In OSCAR: open Administration from the menu at the top of the page.",
        f"Add a Provider: provider number {number}, last name {p.last_name}, first name "
        f"{p.first_name}, type {p.provider_type}, status active.",
    )
    roles = ", ".join(spec.roles)
    yield step(
        f"{ROLE}[{number}/{','.join(spec.roles)}]",
        ROLE,
        20,
        "Administration > User Management > Assign Role to Provider.",
        f"Give '{name}' the role(s) {roles} (if not already set) and click 'Add'; remove any "
        "other role.",
    )
    yield step(
        f"{PRIMARY_ROLE}[{number}]",
        PRIMARY_ROLE,
        30,
        f"Under 'Set primary role', select '{name}' and the role '{spec.primary_role}'; click "
        "'Set Primary Role'.",
    )
    expiry = (
        f"Expiry ticked, date {login.expires}"
        if login.expires
        else "untick 'Expiry' (the screen ticks it by default)"
    )
    yield step(
        f"{LOGIN}[{login.username}]",
        LOGIN,
        40,
        "Administration > User Management > Add a Login Record (or edit the existing one).",
        f"Username: {login.username} (no spaces).",
        f"Password and Confirm: {_ref(login.password, 'password')}.",
        f"Provider Number: '{name}'.",
        f"Pin(remote) Enable: {'Enabled' if login.pin_remote else 'Disabled'}; Pin(local) "
        f"Enable: {'Enabled' if login.pin_local else 'Disabled'}.",
        f"PIN and Confirm: {_ref(login.pin, 'PIN')}.",
        f"Force Password Reset: {str(login.force_password_reset).lower()}; {expiry}.",
        "Click 'Add Record' (or 'Update Record').",
    )


def _change(
    address: str,
    resource: str,
    action: Action,
    live: OscarLive,
    fields: tuple[FieldChange, ...],
    *,
    order: int,
    mode: Mode = Mode.AUTOMATIC,
    rule: SafetyRule | None = None,
    impact: str | None = None,
    steps: tuple[str, ...] = (),
) -> Change:
    return Change(
        address=address,
        resource=resource,
        action=action,
        mode=mode,
        fields=fields,
        impact=impact if impact is not None else IMPACT.get(resource, ""),
        steps=steps,
        fingerprint=live.fingerprint(address),
        safety_rule=rule,
        order=order,
    )
