"""The simulator's HTTP side: the token endpoint, ``/rest/v1/...`` and the ``/_sim`` admin API.

One server is one API host, serving every tenant of its :class:`SimState`, as the real
multi-tenant API does (FACTS.md §1a, §1c): the token endpoint's ``?tenant=`` picks the
tenant whose client credentials are checked, the token then carries that tenant, and every
``/rest`` call is answered from the token's tenant's data (its uuid, clients, users, grid).

A ``/rest`` request passes the checks a real one passes, in the same order (FACTS.md §1c):
injected faults (the gateway), the subscription key (the gateway: one of any tenant's), the
bearer token, the ``uuid`` (required for every token here: the guide says every call
carries it, [I]), the tenant, the subscription key again (it must be the token's tenant's:
[I], stricter than a gateway is known to be, so that a client mixing two clinics'
credentials is caught), the ``uuid`` against the tenant's, the authorized-client table, the
REST module, the token's user (exists, active, external access), the endpoint's scope, then
the endpoint.

Faults are the host's (the gateway's): a fault hits every tenant's requests unless it names
one. A ``reset`` fault reads the request, then closes the connection with a TCP reset and no
answer at all (recorded with status 0).

The server is a threading one (a thread per connection, keep-alive, Nagle off, a listen
backlog for a fleet's worth of connections at once): at 64 requests at once with 50 ms of
latency each it keeps them all in flight together.

The token endpoint takes two grants, both with the client's HTTP Basic credentials and a
scope: ``client_credentials`` (the token acts as the client's Service User) and
``password`` (``username``, ``password``, optional ``office``: the token acts as that
user). The password grant answers as Accuro's own OAuth server (FACTS §1b, Spring Security
OAuth2 defaults), in this order:

- ``office`` not an integer: 400 ``invalid_request``; missing while the seed sets
  ``require_login_office``: 401 ``unauthorized`` "Office must be supplied ...";
- a tenant the host does not serve: 401 ``unauthorized`` "Invalid tenant id." (a
  client-credentials token is issued for any tenant, to a client of any tenant, and refused
  on every ``/rest`` call);
- an unknown user, a user without a password, a wrong password: 400 ``invalid_grant`` "Bad
  credentials" (all alike; the password is compared in constant time, and checked before the
  account's state, so that state is told only to someone who knows the password);
- a locked user (``lockedDate`` set): 400 ``invalid_grant`` "User account is locked"; an
  inactive one: "User is disabled" (Spring checks locked first);
- an ``office`` the user does not belong to: 401 ``unauthorized`` "User does not belong to
  the requested Office." ("... to any Office." for a user with none).

A password is never logged, echoed or kept: the request log and the debug log show a
``password`` (or ``client_secret``) query parameter as ``(sensitive)``, and a form body is
never logged.

``/_sim/...`` is not part of Accuro: see ``sim_admin``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import math
import re
import socket
import struct
import threading
import time
import uuid as uuidlib
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from reconciler.emr.accuro import sim_dto as dto
from reconciler.emr.accuro.sim_admin import admin
from reconciler.emr.accuro.sim_dto import Reply
from reconciler.emr.accuro.sim_seed import SeedClient, SeedUser
from reconciler.emr.accuro.sim_state import RequestRecord, SimState, TenantState, Token

log = logging.getLogger("reconciler.emr.accuro.simulator")

SUBSCRIPTION_HEADER = "X-QHR-Subscription-Key"
PAGE_DEFAULT, PAGE_MAX = 25, 50
SCOPE_USER_READ = "user/provider.User.read"
SCOPE_OFFICE_READ = "user/provider.Office.read"
SCOPE_PERMISSIONS_READ = "user/provider.ProviderPermissions.read"
GRANTS = ("client_credentials", "password")
SENSITIVE_PARAMS = frozenset({"password", "client_secret"})
_SENSITIVE_IN_LINE = re.compile(r"((?:^|[?&])(?:password|client_secret)=)[^&\s]*", re.I)


class _Reset(Exception):
    """Close the connection with a TCP reset, answering nothing."""


class SimServer(ThreadingHTTPServer):
    """A threading HTTP server holding one :class:`SimState`; it counts connections."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 512  # a fleet run opens its connections all at once

    def __init__(self, address: tuple[str, int], state: SimState) -> None:
        super().__init__(address, Handler)
        self.state = state
        self.local = threading.local()  # the connection's number, in its thread

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        self.local.connection = self.state.connection_opened()
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.state.connection_closed()

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("simulator: connection from %s ended with an error", client_address)


def _page_size(query: dict[str, str]) -> int:
    try:
        size = int(query.get("pageSize", PAGE_DEFAULT))
    except ValueError:
        raise Reply(400, dto.error("Request Constraint Violation")) from None
    return PAGE_DEFAULT if size <= 0 else min(size, PAGE_MAX)


def _starting_id(query: dict[str, str]) -> int | None:
    if "startingId" not in query:
        return None
    try:
        return int(query["startingId"])
    except ValueError:
        raise Reply(400, dto.error("Request Constraint Violation")) from None


class Handler(BaseHTTPRequestHandler):
    """One request; ``self.server`` is the :class:`SimServer`."""

    protocol_version = "HTTP/1.1"
    server_version = "AccuroSimulator/1"
    timeout = 10  # an idle keep-alive connection's thread ends after this
    disable_nagle_algorithm = True  # headers and body go out at once, no 40 ms stalls

    @property
    def state(self) -> SimState:
        server = self.server
        assert isinstance(server, SimServer)
        return server.state

    @property
    def connection_number(self) -> int:
        server = self.server
        assert isinstance(server, SimServer)
        return int(getattr(server.local, "connection", 0))

    def log_message(self, format: str, *args: Any) -> None:
        if not log.isEnabledFor(logging.DEBUG):
            return
        shown = tuple(
            _SENSITIVE_IN_LINE.sub(r"\1(sensitive)", a) if isinstance(a, str) else a for a in args
        )
        log.debug("simulator: " + format, *shown)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # -- plumbing -----------------------------------------------------------------------
    def _handle(self, method: str) -> None:
        self.state.request_started()
        try:
            self._answer(method)
        finally:
            self.state.request_ended()

    def _answer(self, method: str) -> None:
        url = urlsplit(self.path)
        path = unquote(url.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        received = time.monotonic()
        tenant = self._tenant_of(path, query)
        reset = False
        try:
            if path.startswith("/_sim/"):
                admin(self.state, method, path, body, query)
            self._gateway(path, tenant)
            if path == "/v1/token":
                self._token(method, query, body)
            if path.startswith("/rest/"):
                self._rest(method, path, query)
            raise Reply(404, dto.error(dto.NOT_FOUND))
        except Reply as raised:
            reply = raised
        except _Reset:
            reset, reply = True, Reply(0, {})
        except Exception as exc:  # a simulator bug: answer as the API does, 500
            log.debug("simulator: %s on %s %s", type(exc).__name__, method, path)
            reply = Reply(
                500, dto.error("Error processing request. Caused by: " + type(exc).__name__)
            )
        if not path.startswith("/_sim/"):  # logged before answering: a test reads it next
            sent = bool(self.headers.get(SUBSCRIPTION_HEADER))
            kept = {
                k: "(sensitive)" if k.lower() in SENSITIVE_PARAMS else v for k, v in query.items()
            }
            record = RequestRecord(
                method,
                path,
                kept,
                sent,
                reply.status,
                tenant=tenant,
                received=received,
                answered=time.monotonic(),
                connection=self.connection_number,
            )
            self.state.record(record)
        if reset:
            self._reset()
        else:
            self._send(reply)

    def _tenant_of(self, path: str, query: dict[str, str]) -> str | None:
        """The tenant a request is for, as the host can tell: the token endpoint's
        ``?tenant=``, the bearer token's under ``/rest`` (None when neither says)."""
        if path == "/v1/token":
            return query.get("tenant", "").removeprefix("ACRON-") or None
        if path.startswith("/rest/"):
            scheme, _, value = (self.headers.get("Authorization") or "").partition(" ")
            if scheme.lower() == "bearer" and value:
                token, _ = self.state.token(value)
                return token.tenant if token is not None else None
        return None

    def _reset(self) -> None:
        """Close the connection with a TCP reset: no status line, nothing."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()

    def _send(self, reply: Reply) -> None:
        data = json.dumps(reply.body).encode() if reply.status != 204 else b""
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if data:
            self.wfile.write(data)

    # -- the gateway ----------------------------------------------------------------------
    def _gateway(self, path: str, tenant: str | None) -> None:
        fault = self.state.take_fault(path, tenant)
        if fault is None:
            return
        if fault.latency:
            self.state.stopping.wait(fault.latency)
        if fault.reset:
            raise _Reset
        if fault.status == 429:
            if fault.retry_after_date:  # whole seconds, rounded up: never sooner than asked
                value = formatdate(math.ceil(time.time() + fault.retry_after), usegmt=True)
            else:
                value = str(fault.retry_after)
            raise Reply(429, dto.rate_limited(fault.retry_after), {"Retry-After": value})
        if fault.status is not None:
            raise Reply(fault.status, dto.server_error(fault.status))

    # -- the token endpoint ---------------------------------------------------------------
    def _client(self, tenant: TenantState | None) -> SeedClient:
        """The client whose HTTP Basic credentials these are: one of the tenant's, or of any
        tenant's when the host does not serve the tenant asked for."""
        scheme, _, encoded = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "basic":
            raise Reply(401, dto.TOKEN_UNAUTHORIZED)
        try:
            decoded = base64.b64decode(encoded, validate=True).decode()
            client_id, sep, secret = decoded.partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise Reply(401, dto.TOKEN_UNAUTHORIZED) from None
        seeds = [tenant.seed] if tenant is not None else self.state.seeds
        for seed in seeds:
            for client in seed.clients:
                if sep and client.client_id == client_id and client.client_secret == secret:
                    return client
        raise Reply(401, dto.TOKEN_UNAUTHORIZED)

    def _token(self, method: str, query: dict[str, str], body: bytes) -> None:
        if method != "POST":
            raise Reply(405, dto.TOKEN_BAD_REQUEST)
        tenant_state = self.state.find_tenant(query.get("tenant"))
        client = self._client(tenant_state)
        content_type = self.headers.get("Content-Type", "")
        if not query.get("tenant") or "application/x-www-form-urlencoded" not in content_type:
            raise Reply(400, dto.TOKEN_BAD_REQUEST)
        form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        scopes = tuple(dict.fromkeys(form.get("scope", "").replace(",", " ").split()))
        grant = form.get("grant_type")
        if grant not in GRANTS or not scopes:
            raise Reply(400, dto.TOKEN_BAD_REQUEST)
        if not set(scopes) <= set(client.scopes):
            raise Reply(400, dto.TOKEN_BAD_REQUEST)
        tenant = query["tenant"].removeprefix("ACRON-")
        user, office = client.service_user, None
        if grant == "password":
            user, office = self._sign_in(form, tenant_state)
        value, expires_in = self.state.issue_token(
            client.client_id, user, tenant, scopes, grant=str(grant), office=office
        )
        answer: dict[str, Any] = {
            "token_type": "Bearer",
            "expires_in": expires_in,
            "access_token": value,
            "scope": " ".join(scopes),
        }
        if office is not None:  # AccuroTokenEnhancer adds the office to a user's token
            answer["office"] = office
        raise Reply(200, answer)

    def _sign_in(self, form: dict[str, str], tenant: TenantState | None) -> tuple[str, int | None]:
        """The password grant's checks (see the module's docstring): the user's name and
        the office signed in to, or a refusal."""
        office: int | None = None
        if "office" in form:
            if not re.fullmatch(r"-?\d{1,9}", form["office"]):
                raise Reply(400, dto.oauth_error("invalid_request", dto.OFFICE_NOT_A_NUMBER))
            office = int(form["office"])
        elif (tenant or self.state.primary).seed.require_login_office:
            raise Reply(401, dto.oauth_error("unauthorized", dto.OFFICE_REQUIRED))
        if tenant is None:
            raise Reply(401, dto.oauth_error("unauthorized", dto.INVALID_TENANT))
        user = tenant.check_password(form.get("username", ""), form.get("password", ""))
        if user is None:
            raise Reply(400, dto.oauth_error("invalid_grant", dto.BAD_CREDENTIALS))
        if user.locked_date is not None:
            raise Reply(400, dto.oauth_error("invalid_grant", dto.USER_LOCKED))
        if not user.active:
            raise Reply(400, dto.oauth_error("invalid_grant", dto.USER_DISABLED))
        if office is not None:
            offices = [o.office_id for o in tenant.user_offices(user.user_id)]
            if not offices:
                raise Reply(401, dto.oauth_error("unauthorized", dto.NO_OFFICE_AT_ALL))
            if office not in offices:
                raise Reply(401, dto.oauth_error("unauthorized", dto.OFFICE_NOT_THE_USERS))
        return user.username, office

    # -- /rest ----------------------------------------------------------------------------
    def _bearer(self) -> Token:
        scheme, _, value = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not value:
            raise Reply(401, dto.NO_AUTHENTICATION, {"WWW-Authenticate": 'Bearer realm="oauth"'})
        token, expired = self.state.token(value)
        if token is None or expired:
            # Accuro's own text echoes the token (OktaJwtAccessTokenConverter); so do we.
            text = f"Access token expired: {value}" if token else "Error verifying the access token"
            challenge = f'Bearer error="invalid_token", error_description="{text}"'
            raise Reply(401, dto.invalid_token(text), {"WWW-Authenticate": challenge})
        return token

    def _context(self, query: dict[str, str]) -> tuple[Token, TenantState, SeedUser | None]:
        key = self.headers.get(SUBSCRIPTION_HEADER)
        if not key:
            raise Reply(401, dto.MISSING_KEY)
        if key not in self.state.subscription_keys:
            raise Reply(401, dto.INVALID_KEY)
        token = self._bearer()
        if not query.get("uuid"):
            raise Reply(400, dto.error(dto.UUID_MISSING))
        try:
            asked = uuidlib.UUID(query["uuid"])
        except ValueError:
            raise Reply(400, dto.error(dto.UUID_INVALID)) from None
        tenant = self.state.find_tenant(token.tenant)
        if tenant is None:
            raise Reply(401, dto.error(dto.CLINIC_NOT_FOUND))
        seed = tenant.seed
        if key not in seed.subscription_keys:
            raise Reply(401, dto.INVALID_KEY)
        if asked != uuidlib.UUID(seed.uuid):
            raise Reply(400, dto.error(dto.UUID_MISMATCH))
        client = next((c for c in seed.clients if c.client_id == token.client_id), None)
        if client is None or not client.authorized:
            raise Reply(401, dto.error(dto.CLIENT_NOT_AUTHORIZED))
        if not seed.rest_api_module:
            raise Reply(403, dto.error(dto.MODULE_DISABLED))
        if token.service_user is None:
            return token, tenant, None
        user = tenant.user_named(token.service_user)
        if user is None:
            raise Reply(401, dto.error(dto.USER_GONE))
        if not user.active:
            raise Reply(401, dto.error(dto.USER_DEACTIVATED))
        if not user.external_access:
            raise Reply(401, dto.error(dto.NO_EXTERNAL_ACCESS))
        return token, tenant, user

    @staticmethod
    def _scope(token: Token, scope: str) -> None:
        if scope not in token.scopes:
            raise Reply(401, dto.error(dto.ACCESS_DENIED))

    def _rest(self, method: str, path: str, query: dict[str, str]) -> None:
        token, state, user = self._context(query)
        if method != "GET":
            raise Reply(405, dto.error("HTTP 405 Method Not Allowed"))
        username = user.username if user else None
        if path == "/rest/v1/offices":
            raise Reply(200, [dto.office(o) for o in state.offices])
        if m := re.fullmatch(r"/rest/v1/providers/offices/(-?\d+)", path):
            providers = state.providers_of_office(username, int(m[1]))
            raise Reply(200, [dto.provider(p) for p in providers])
        if path == "/rest/v1/users":
            self._scope(token, SCOPE_USER_READ)
            page, total = state.users_page(
                query.get("userName"), _starting_id(query), _page_size(query)
            )
            last = page[-1].user_id if page else None
            raise Reply(200, dto.envelope([dto.user(u) for u in page], total, last))
        if m := re.fullmatch(r"/rest/v1/users/(\d+)/offices", path):
            self._scope(token, SCOPE_OFFICE_READ)
            start, size = _starting_id(query), _page_size(query)
            offices = state.user_offices(int(m[1]))
            after = [o for o in offices if start is None or o.office_id > start][:size]
            last = after[-1].office_id if after else None
            raise Reply(200, dto.envelope([dto.office(o) for o in after], len(offices), last))
        if path == "/rest/v1/accessible-providers":
            self._scope(token, SCOPE_PERMISSIONS_READ)
            kind = query.get("permissionsType")
            if not kind:
                raise Reply(400, dto.error(dto.PERMISSIONS_TYPE_REQUIRED))
            if kind not in ("READ_APPOINTMENTS", "WRITE_APPOINTMENTS"):
                raise Reply(400, dto.error(f"Invalid permission Type: {kind}"))
            ids = state.accessible_providers(username, write=kind == "WRITE_APPOINTMENTS")
            raise Reply(200, ids)
        if path == "/rest/v1/whoami":
            raise Reply(200, dto.whoami(state, token.tenant, token.scopes, user, token.grant))
        raise Reply(404, dto.error(dto.NOT_FOUND))
