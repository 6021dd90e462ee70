"""Writing one clinic's changes, inside the adapter's transaction, as OSCAR's screens do.

For each change the adapter writes the row itself and the records OSCAR's own admin screens
write for the same change in this lineage (``securityaddsecurity``, ``securityupdate``,
``securitydelete``, ``providerRole``, ``provideraddarecord``, ``providerupdate``), where
those tables exist, so the clinic's own OSCAR audit trail shows it:

- ``security``: password and PIN are always rewritten together, in the scheme OSCAR writes
  in this lineage, with ``storageVersion = 2`` where the column exists; ``usingMfa = 0`` on
  Open-O. ``lastUpdateUser`` is the update user (below) in every lineage (OSCAR 2019 and
  Open-O leave it empty; the adapter fills it so the row says who changed it).
- OSCAR 15+ (``storageVersion``) goes through its ``SecurityManager``: an update first
  copies the row as it was to ``SecurityArchive`` (its "do not reuse a past password" rule
  reads it), and ``SecurityManager.*`` rows go to ``log`` with ``data = id=N``.
- ``log``: ``add``/``update``/``delete`` of ``securityRecord`` and ``role``, and ``add`` of
  ``adminAddUser``, with OSCAR's own content ids (``N->user``, ``provider|role``).
- ``secUserRole``: a revoked role's rows are deleted by id, each kept in ``recyclebin``;
  an added role is written as OSCAR's screen writes it (``activeyn = 1``, ``orgcd`` NULL).
- ``provider``: an update first copies the row to ``providerArchive``.

The update user is a provider number (``emr.database.update_user``; default ``-1``, the
``system`` provider OSCAR's data scripts create), as OSCAR records the provider who made a
change; every ``log`` row the adapter writes says ``reconciler`` in its ``data``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy import column as col
from sqlalchemy import table as tbl

from reconciler.emr.oscar.diff import LOGIN, PRIMARY_ROLE, PROVIDER, ROLE
from reconciler.emr.oscar.passwords import (
    STORAGE_VERSION_PBKDF2,
    Lineage,
    hash_password,
    hash_pin,
    write_scheme,
)
from reconciler.emr.oscar.spec import OscarSpec
from reconciler.emr.oscar.tables import (
    log_t,
    program_provider_t,
    provider_t,
    recyclebin_t,
    security_t,
    user_role_t,
)
from reconciler.errors import AdapterError
from reconciler.plan import Action, Change

if TYPE_CHECKING:
    from reconciler.emr.oscar.sql import Snapshot

AUDIT_TABLES = ("SecurityArchive", "providerArchive", "log", "recyclebin")
DEFAULT_UPDATE_USER = "-1"  # OSCAR's own "system" provider
MARK = "reconciler"


def _rounded(value: Any) -> Any:
    """A zero date as OSCAR's JDBC connection reads it (``zeroDateTimeBehavior=round``): a
    strict session refuses '0000-00-00', so an archived copy holds 0001-01-01 instead."""
    if isinstance(value, str) and value.startswith("0000-00-00"):
        return "0001-01-01" + value[10:]
    return value


def now() -> datetime:
    return datetime.now().replace(microsecond=0)


class Writer:
    """Writes changes for one clinic on ``conn`` (already in a transaction)."""

    def __init__(self, conn: Connection, spec: OscarSpec, snap: Snapshot) -> None:
        self.conn = conn
        self.spec = spec
        self.snap = snap
        self.facts = snap.facts
        self.now = now()

    def write(self, change: Change) -> None:
        {
            PROVIDER: self._provider,
            ROLE: self._role,
            PRIMARY_ROLE: self._primary_role,
            LOGIN: self._login,
        }[change.resource](change)

    def _has(self, table: str, column: str) -> bool:
        return self.facts.has_column(table, column)

    def _update_user(self, table: str) -> str:
        return self.spec.update_user or DEFAULT_UPDATE_USER

    def _log(self, action: str, content: str | None, content_id: str | None, **extra: Any) -> None:
        """A row of OSCAR's ``log`` table, as ``LogAction.addLog`` writes it."""
        if "log" not in self.facts.tables:
            return
        row = {
            "dateTime": self.now,
            "provider_no": self._update_user("log"),
            "action": action,
            "content": content,
            "contentId": content_id,
            "data": MARK if "data" not in extra else f"{extra.pop('data')} ({MARK})",
            **extra,
        }
        columns = self.facts.columns["log"]
        self.conn.execute(insert(log_t).values({k: v for k, v in row.items() if k in columns}))

    def _archive(self, archive: str, source: dict[str, Any] | None, **extra: Any) -> None:
        """Copy a row as it was into OSCAR's archive table (only the columns it has)."""
        if source is None or archive not in self.facts.tables:
            return
        columns = self.facts.columns[archive]
        row = {k: _rounded(v) for k, v in {**source, **extra}.items() if k in columns and k != "id"}
        self.conn.execute(insert(tbl(archive, *(col(k) for k in row))).values(row))

    def _fit(self, table: str, column: str, value: str) -> str:
        """``value`` cut to the column, as OSCAR's own (non-strict) insert stores it."""
        info = self.facts.column(table, column)
        return value[: info.length] if info and info.length else value

    # --- provider -------------------------------------------------------------------

    def _provider(self, change: Change) -> None:
        p = self.spec.provider
        where = provider_t.c.provider_no == p.number
        stamp: dict[str, Any] = {"lastUpdateDate": self.now}
        if self._has("provider", "lastUpdateUser"):
            stamp["lastUpdateUser"] = self._update_user("provider")
        if change.action is not Action.CREATE:
            self._archive("providerArchive", self.snap.provider_row)
        if change.action is Action.CREATE:
            self._log("add", "adminAddUser", None)  # OSCAR logs the practitionerNo: none
            self.conn.execute(
                insert(provider_t).values(
                    provider_no=p.number,
                    last_name=p.last_name,
                    first_name=p.first_name,
                    provider_type=p.provider_type,
                    specialty="",
                    sex="",
                    status="1",
                    **stamp,
                )
            )
        elif change.action is Action.DELETE:
            self.conn.execute(update(provider_t).where(where).values(status="0", **stamp))
        else:
            values = dict(stamp)
            for f in change.fields:
                if f.name == "active":
                    values["status"] = "1" if f.after else "0"
                else:
                    values[f.name] = f.after
            self.conn.execute(update(provider_t).where(where).values(**values))

    # --- roles ----------------------------------------------------------------------

    def _role(self, change: Change) -> None:
        number = self.spec.provider.number
        if change.action is Action.REVOKE:
            role = change.fields[0].before
            rows = [r for r in self.snap.role_rows if str(r["role_name"]) == role]
            for r in rows:
                self.conn.execute(delete(user_role_t).where(user_role_t.c.id == r["id"]))
                self._recycle(number, str(r["role_name"]))
                self._log("delete", "role", f"{number}|{r['role_name']}")
            return
        role = change.fields[0].after
        self._log("add", "role", f"{number}|{role}")
        self.conn.execute(
            insert(user_role_t).values(
                provider_no=number, role_name=role, orgcd=None, activeyn=1, lastUpdateDate=self.now
            )
        )

    def _recycle(self, number: str, role: str) -> None:
        """``providerRole``'s delete keeps the row in ``recyclebin``."""
        if "recyclebin" not in self.facts.tables:
            return
        row = {
            "provider_no": self._update_user("recyclebin"),
            "updatedatetime": self.now,
            "table_name": "secUserRole",
            "keyword": self._fit("recyclebin", "keyword", f"{number}|{role}"),
            "table_content": f"<provider_no>{number}</provider_no><role_name>{role}</role_name>",
        }
        self.conn.execute(insert(recyclebin_t).values(row))

    # --- primary role ---------------------------------------------------------------

    def _primary_role(self, change: Change) -> None:
        number = self.spec.provider.number
        ids = list(self.snap.primary_ids)
        if change.action is Action.DELETE:
            if ids:
                self.conn.execute(
                    delete(program_provider_t).where(program_provider_t.c.id.in_(ids))
                )
            return
        role_id = self.snap.role_numbers[self.spec.primary_role]
        if not ids:
            self.conn.execute(
                insert(program_provider_t).values(
                    program_id=self.snap.program_id, provider_no=number, role_id=role_id
                )
            )
            return
        keep, *duplicates = ids
        self.conn.execute(
            update(program_provider_t)
            .where(program_provider_t.c.id == keep)
            .values(role_id=role_id)
        )
        if duplicates:
            self.conn.execute(
                delete(program_provider_t).where(program_provider_t.c.id.in_(duplicates))
            )

    # --- login ----------------------------------------------------------------------

    def _secrets(self) -> dict[str, Any]:
        """Password and PIN, hashed as OSCAR's security screen writes them in this lineage."""
        login = self.spec.login
        if login.password is None or login.pin is None:
            raise AdapterError("the login password and PIN must both be declared to write them")
        scheme = write_scheme(self.facts.lineage)
        values: dict[str, Any] = {
            "password": hash_password(login.password.resolve().reveal(), scheme),
            "pin": hash_pin(login.pin.resolve().reveal(), scheme),
            "passwordUpdateDate": self.now,
            "pinUpdateDate": self.now,
        }
        if self.facts.has_storage_version:
            values["storageVersion"] = STORAGE_VERSION_PBKDF2
        return values

    def _login(self, change: Change) -> None:
        login = self.spec.login
        where = security_t.c.user_name == login.username
        old = self.snap.login_row
        security_no = None if old is None else str(old["security_no"])
        manager = self.facts.lineage is Lineage.PBKDF2  # OSCAR 15+'s SecurityManager
        if change.action is Action.DELETE:
            self.conn.execute(delete(security_t).where(where))
            if manager:
                self._log("SecurityManager.remove", None, None, data=f"id={security_no}")
            self._log("delete", "securityRecord", security_no)
            return
        values: dict[str, Any] = {"lastUpdateDate": self.now}
        if self._has("security", "lastUpdateUser"):
            values["lastUpdateUser"] = self._update_user("security")
        names = {f.name for f in change.fields}
        if change.action is Action.CREATE:
            names |= {"provider", "pin_remote", "pin_local", "force_password_reset", "expires"}
            names |= {"password", "pin", "using_mfa"}
            values["user_name"] = login.username
            for one_id in ("oneIdKey", "oneIdEmail", "delegateOneIdEmail"):
                if self._has("security", one_id):
                    values[one_id] = ""  # OSCAR's Security entity starts them empty
        for name in names:
            if name == "provider":
                values["provider_no"] = self.spec.provider.number
            elif name == "pin_remote":
                values["b_RemoteLockSet"] = int(login.pin_remote)
            elif name == "pin_local":
                values["b_LocalLockSet"] = int(login.pin_local)
            elif name == "force_password_reset":
                values["forcePasswordReset"] = int(login.force_password_reset)
            elif name == "expires":
                values["b_ExpireSet"] = int(login.expires is not None)
                values["date_ExpireDate"] = login.expires  # no expiry: NULL, as OSCAR writes
            elif name == "using_mfa" and self.facts.has_using_mfa:
                values["usingMfa"] = 0
        if names & {"password", "pin", "storage_version"}:
            values.update(self._secrets())
        if change.action is Action.CREATE:
            self.conn.execute(insert(security_t).values(**values))
            new_no = self.conn.execute(select(security_t.c.security_no).where(where)).scalar_one()
            if manager:
                self._log("SecurityManager.saveNewSecurityRecord", None, None, data=f"id={new_no}")
            self._log("add", "securityRecord", login.username)
        else:
            if manager:
                self._archive("SecurityArchive", old)
            self.conn.execute(update(security_t).where(where).values(**values))
            if manager:
                self._log(
                    "SecurityManager.updateSecurityRecord", None, None, data=f"id={security_no}"
                )
            self._log("update", "securityRecord", f"{security_no}->{login.username}")
