"""An httpx client for the Accuro REST API, as the OceanAPI integration uses it.

**Authentication: two grants, one token endpoint.** Both ask
``POST {base}/v1/token?tenant=ACRON``, with the client id and secret as HTTP Basic and a
``scope`` (required):

- ``Grant.PASSWORD``, the form ``grant_type=password&username=...&password=...&scope=...``
  (and ``office=N`` when ``login_office`` is set): the OceanAPI user signs in with its own
  password. The token is bound to that user, so what the API shows (which providers'
  appointments it may read, which offices it has) is exactly what Ocean, which signs in as
  the same user, sees. It is the default when the clinic file gives
  ``ocean_api_user.password`` (``spec.build_spec`` decides; this client only does what it is
  told). The public source documents this grant on Accuro's own OAuth server, which takes
  ``office=`` too and insists on it there (FACTS.md §1b); QHR's partner guide documents only
  client credentials, hence the other grant.
- ``Grant.CLIENT_CREDENTIALS``, the form ``grant_type=client_credentials&scope=...``: the
  partner flow QHR documents (FACTS.md §1a). Okta binds the partner client to its Service
  User through the token's ``service_user_id`` claim, and the API acts as that user,
  filtered by its Provider Permissions; which user that is, only :meth:`AccuroClient.whoami`
  can tell (the adapter checks it is the OceanAPI user). No password is sent.

Neither grant's refresh token is used: a token that expires is replaced by a new grant. A
refused sign-in is never retried, since each failed attempt may count towards Accuro locking
the very user Ocean depends on.

**Every call** sends the ``X-QHR-Subscription-Key`` header (also to the token endpoint:
same gateway host, harmless) and, under ``/rest``, ``?uuid=``. A token is reused until
``expires_in`` less a margin (a tenth of its life, at most a minute), and renewed once when
the API answers 401 for the token itself (``invalid_token``); a second such 401 is an error.

**Retries.** Reads (GET) and the token request (it creates nothing but a token) are retried,
at most ``RetryPolicy.attempts`` times in all: after a 429, once the host's pause is over
(below); after a 500/502/503/504, a timeout or a broken connection (a connection closed or
reset without an answer), with exponential backoff and jitter.

**One host, one budget.** Every attempt, the token request's included, goes through the
host's :class:`~reconciler.throttle.HostBudget`, shared by every clinic on that host: a 429
pauses the whole host for its ``Retry-After`` (seconds or an HTTP-date; a pause longer than
``max_retry_after`` is not waited for: the request fails at once, and so does any other
clinic's that would have to wait that long), and halves the requests the host may have in
flight, which grow back by one after a run of successes. Through the adapter, the clinics of
a host also share one httpx connection pool (``http``), which keeps no cookies.

**Errors** are reconciler's: :class:`~reconciler.errors.EMRConnectionError` when the API
cannot be reached, times out, keeps failing (5xx, 429) or refuses the sign-in (the client
secret; the OceanAPI user's password, or that user locked or inactive, as ``invalid_grant``;
a ``login_office`` the user does not belong to; a grant the token endpoint does not offer;
the subscription key; a token rejected twice); :class:`AccuroApiError`, an ``AdapterError``,
for any other refusal (a wrong uuid, a deactivated user, a missing scope), and
``AdapterError`` for a response of the wrong shape. Messages are the client's own; the one
piece of server text they carry (``error_description``/``error``/``message``) is cut short
and has this client's secrets (the OceanAPI user's password among them) masked in every
form, because Accuro echoes the token in some of them.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.cookiejar import Cookie, CookieJar, DefaultCookiePolicy
from typing import Any, Self, TypeVar
from urllib.parse import quote_plus, urlsplit

import httpx

from reconciler.emr.accuro import api_model as m
from reconciler.emr.accuro.spec import AccuroSpec, Grant
from reconciler.errors import AdapterError, EMRConnectionError
from reconciler.secrets import MIN_MASKED, SHORT_SECRET, Secret, forms, mask
from reconciler.throttle import HostBudget, HostPaused, Outcome, retry_after

log = logging.getLogger(__name__)

SUBSCRIPTION_HEADER = "X-QHR-Subscription-Key"
DEFAULT_SCOPES: tuple[str, ...] = (
    "user/provider.User.read",
    "user/provider.Office.read",
    "user/provider.ProviderPermissions.read",
)
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
PAGE_SIZE = 50  # the API's maximum
RETRY_STATUSES = frozenset({500, 502, 503, 504})
MAX_DETAIL = 160
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try: ``attempts`` in all per request, backoff doubling from ``backoff``
    up to ``backoff_max`` seconds, and the longest ``Retry-After`` worth waiting for."""

    attempts: int = 4
    backoff: float = 0.5
    backoff_max: float = 8.0
    max_retry_after: float = 60.0


class AccuroApiError(AdapterError):
    """The API refused a request; ``status`` and ``detail`` (its message, masked) say why."""

    def __init__(self, message: str, *, status: int, path: str, detail: str) -> None:
        super().__init__(message)
        self.status, self.path, self.detail = status, path, detail


class _Masks:
    """One client's secrets, in every form a third party may print them. Copy-on-write: a
    reader (the log filter, in any thread) always sees a whole set."""

    def __init__(self) -> None:
        self._values: frozenset[str] = frozenset()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<{len(self._values)} masked values>"

    @property
    def values(self) -> frozenset[str]:
        return self._values

    def add(self, value: str) -> None:
        # forms() has the percent-encoded form; a form body encodes a space as "+".
        plus = quote_plus(value)
        new = forms(value) | ({plus} if len(plus) >= MIN_MASKED else set())
        with self._lock:
            self._values = self._values | new

    def mask(self, text: str) -> str:
        return mask(text, set(self._values))

    def attach(self) -> None:
        """Mask these secrets in httpx's and httpcore's log records from now on."""
        _LOG_MASKS.register(self)

    def detach(self) -> None:
        _LOG_MASKS.unregister(self)


class _LogMasks(logging.Filter):
    """The one filter on httpx's and httpcore's loggers: it masks, in their records, the
    secrets of every client open in this process (httpcore's debug trace prints response
    headers, and Accuro's ``WWW-Authenticate`` echoes the token; with a connection pool
    shared by a host's clinics, a record cannot be told apart by clinic).

    It is added to those loggers and stays there: clients register and unregister their
    :class:`_Masks` under a lock. (A filter per client, added and removed as clients come
    and go in several threads, would not do: ``Filterer.filter`` iterates the list that
    ``removeFilter`` shrinks, so one client's removal could skip another's filter.)"""

    LOGGERS = (
        "httpx",
        "httpcore.connection",
        "httpcore.http11",
        "httpcore.http2",
        "httpcore.proxy",
        "httpcore.socks",
    )

    def __init__(self) -> None:
        super().__init__()
        self._clients: dict[int, _Masks] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<masks of {len(self._clients)} open clients>"

    def register(self, masks: _Masks) -> None:
        with self._lock:
            self._clients[id(masks)] = masks
            for name in self.LOGGERS:  # again each time: logging may have been reconfigured
                logger = logging.getLogger(name)
                if self not in logger.filters:
                    logger.addFilter(self)  # appending is safe for a filter() in progress

    def unregister(self, masks: _Masks) -> None:
        with self._lock:
            self._clients.pop(id(masks), None)

    def open_clients(self) -> int:
        with self._lock:
            return len(self._clients)

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            values: set[str] = set().union(*(m.values for m in self._clients.values()))
        if not values:
            return True
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed record: logging reports it later
            return True
        masked = mask(message, values)
        if masked != message:
            record.msg, record.args = masked, None
        return True


_LOG_MASKS = _LogMasks()


@dataclass(frozen=True, slots=True)
class _Token:
    value: Secret
    expires_at: float


def _as_secret(value: str | Secret) -> Secret:
    return value if isinstance(value, Secret) else Secret(value)


class _NoCookies(DefaultCookiePolicy):
    """Accept no cookie and return none."""

    def set_ok(self, cookie: Cookie, request: Any) -> bool:
        return False

    def return_ok(self, cookie: Cookie, request: Any) -> bool:
        return False


def no_cookies() -> CookieJar:
    """A cookie jar that keeps nothing: a connection pool shared by a host's clinics must
    not carry one clinic's cookie (a gateway's session or affinity cookie) to another.
    (Give httpx the jar itself: it copies an ``httpx.Cookies`` into a jar of its own.)"""
    return CookieJar(policy=_NoCookies())


def http_client(
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    *,
    connections: int | None = None,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """An httpx client as this module uses one: no redirects, no cookies, and at most
    ``connections`` connections (kept alive as many), when given."""
    limits = (
        httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        if connections is not None
        else httpx.Limits()
    )
    return httpx.Client(
        timeout=timeout,
        limits=limits,
        transport=transport,
        follow_redirects=False,
        cookies=no_cookies(),
    )


class AccuroClient:
    """One clinic's Accuro API, for one thread at a time. Use it as a context manager, or
    call :meth:`close` (which also stops masking its secrets in httpx's log).

    ``http``: an httpx client to send through (the connection pool of the clinic's host,
    shared with other clinics there, in other threads); it is the caller's to close. Without
    one the client makes its own (with ``transport``, if given) and closes it.
    ``budget``: the host's rate-limit budget (:class:`~reconciler.throttle.HostBudget`),
    shared likewise; without one the client has its own. Tokens, credentials and masks are
    always this clinic's alone."""

    def __init__(
        self,
        base_url: str,
        *,
        tenant: str,
        uuid: str,
        client_id: str | Secret,
        client_secret: str | Secret,
        subscription_key: str | Secret,
        grant: Grant = Grant.CLIENT_CREDENTIALS,
        username: str | None = None,
        password: str | Secret | None = None,
        login_office: int | None = None,
        scopes: tuple[str, ...] = DEFAULT_SCOPES,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        http: httpx.Client | None = None,
        budget: HostBudget | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.host = urlsplit(self.base_url).netloc or self.base_url
        self.tenant, self.uuid, self.scopes = tenant, uuid, scopes
        self.grant = Grant(grant)
        self.username, self.login_office = username, login_office
        self._password: Secret | None = None
        if self.grant is Grant.PASSWORD:
            if not username:
                raise ValueError("the password grant needs the OceanAPI user's username")
            if password is None or not _as_secret(password).reveal():
                raise ValueError("the password grant needs the OceanAPI user's password")
            if login_office is not None and (
                isinstance(login_office, bool) or not isinstance(login_office, int)
            ):
                raise ValueError("login_office must be an Accuro officeId (an integer)")
            self._password = _as_secret(password)
        self.retry = retry or RetryPolicy()
        self._client_id = _as_secret(client_id)
        self._client_secret = _as_secret(client_secret)
        self._key = _as_secret(subscription_key)
        basic = f"{self._client_id.reveal()}:{self._client_secret.reveal()}".encode()
        self._basic = Secret(base64.b64encode(basic).decode())
        self._masks = _Masks()
        for secret in (self._client_secret, self._key, self._basic, self._password):
            if secret is not None:
                self._masks.add(secret.reveal())
        if len(self._client_id.reveal()) >= SHORT_SECRET:
            self._masks.add(self._client_id.reveal())
        self._token: _Token | None = None
        self._clock, self._sleep = clock, sleep
        self._timeout = timeout
        self._own_http = http is None
        self._http = http if http is not None else http_client(timeout, transport=transport)
        self._budget = budget or HostBudget(1, name=self.host, clock=clock, sleep=sleep)
        self._masks.attach()

    @classmethod
    def from_spec(cls, spec: AccuroSpec, **options: Any) -> AccuroClient:
        """A client for a clinic file's ``emr.api`` and ``ocean_api_user``, signing in with
        ``emr.api.grant``. The OceanAPI user's password is resolved only for the password
        grant. Resolving a secret reference may raise ``SecretError`` (naming the
        reference, never the value)."""
        api, user = spec.api, spec.ocean_api_user
        password = None
        if api.grant is Grant.PASSWORD and user.password is not None:
            password = user.password.resolve()
        return cls(
            api.base_url,
            tenant=api.tenant,
            uuid=api.uuid,
            client_id=api.client_id.resolve(),
            client_secret=api.client_secret.resolve(),
            subscription_key=api.subscription_key.resolve(),
            grant=api.grant,
            username=user.username,
            password=password,
            login_office=api.login_office,
            **options,
        )

    def close(self) -> None:
        """Close the connection pool, if it is this client's own."""
        self._masks.detach()
        if self._own_http:
            self._http.close()

    def __repr__(self) -> str:
        return (
            f"AccuroClient({self.base_url!r}, tenant={self.tenant!r}, grant={self.grant.value!r})"
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what the adapter reads ---------------------------------------------------------
    def offices(self) -> tuple[m.Office, ...]:
        """Every office (the API neither pages nor filters them), ordered by id."""
        path = "/rest/v1/offices"
        items = self._parse(path, m.parse_list, self._get(path))
        offices = [self._parse(path, m.parse_office, x) for x in items]
        return tuple(sorted(offices, key=lambda o: o.office_id))

    def providers_of_office(self, office_id: int) -> tuple[m.Provider, ...]:
        """The providers of one office, ordered by id."""
        path = f"/rest/v1/providers/offices/{int(office_id)}"
        items = self._parse(path, m.parse_list, self._get(path))
        providers = [self._parse(path, m.parse_provider, x) for x in items]
        return tuple(sorted(providers, key=lambda p: p.provider_id))

    def users(self, user_name: str | None = None) -> tuple[m.User, ...]:
        """Users (``userName`` is an exact match on the server), every page of them."""
        params = {"userName": user_name} if user_name is not None else {}
        path = "/rest/v1/users"
        return tuple(self._parse(path, m.parse_user, x) for x in self._pages(path, params))

    def find_user(self, username: str) -> m.User | None:
        """The user named exactly ``username`` (case included), or None."""
        exact = [u for u in self.users(username) if u.username == username]
        if len(exact) > 1:
            raise AdapterError(f"Accuro at {self.host} lists {len(exact)} users named {username}")
        return exact[0] if exact else None

    def user_offices(self, user_id: int) -> tuple[m.Office, ...]:
        """The offices a user belongs to, every page of them."""
        path = f"/rest/v1/users/{int(user_id)}/offices"
        return tuple(self._parse(path, m.parse_office, x) for x in self._pages(path, {}))

    def accessible_providers(self, permissions_type: m.PermissionsType) -> tuple[int, ...]:
        """Provider ids the token's user may read (or write) appointments for, sorted."""
        path = "/rest/v1/accessible-providers"
        body = self._get(path, {"permissionsType": m.PermissionsType(permissions_type).value})
        return self._parse(path, m.parse_ids, body)

    def whoami(self) -> m.WhoAmI:
        """The tenant, the scopes and the user the token acts as."""
        path = "/rest/v1/whoami"
        return self._parse(path, m.parse_whoami, self._get(path))

    # -- paging and parsing ---------------------------------------------------------------
    def _pages(self, path: str, params: dict[str, Any]) -> Iterator[Any]:
        starting: int | None = None
        seen = 0
        while True:
            query = {**params, "pageSize": PAGE_SIZE}
            if starting is not None:
                query["startingId"] = starting
            page = self._parse(path, m.parse_envelope, self._get(path, query))
            yield from page.contents
            seen += len(page.contents)
            if not page.contents or page.last_id is None or seen >= page.total:
                return
            if starting is not None and page.last_id <= starting:
                raise AdapterError(f"Accuro at {self.host}: {path} paging did not advance")
            starting = page.last_id

    def _parse(self, path: str, parser: Callable[[Any, str], T], value: Any) -> T:
        try:
            return parser(value, path)
        except m.MalformedResponse as exc:
            raise AdapterError(
                f"Accuro at {self.host}: unexpected answer to {path}: {exc}"
            ) from exc

    # -- tokens -----------------------------------------------------------------------------
    def _bearer(self) -> str:
        token = self._token
        if token is None or self._clock() >= token.expires_at:
            token = self._token = self._new_token()
        return token.value.reveal()

    def _token_form(self) -> dict[str, str]:
        form = {"grant_type": self.grant.value}
        if self.grant is Grant.PASSWORD:
            assert self._password is not None and self.username
            form["username"] = self.username
            form["password"] = self._password.reveal()
        form["scope"] = " ".join(self.scopes)
        if self.grant is Grant.PASSWORD and self.login_office is not None:
            form["office"] = str(self.login_office)
        return form

    def _new_token(self) -> _Token:
        path = "/v1/token"
        response = self._send(
            "POST",
            path,
            params={"tenant": self.tenant},
            headers={"Authorization": f"Basic {self._basic.reveal()}"},
            data=self._token_form(),
        )
        if response.status_code != 200:
            raise self._token_refusal(path, response)
        body = self._json(path, response)
        if not isinstance(body, dict):
            body = {}
        value, expires_in = body.get("access_token"), body.get("expires_in")
        if (
            not isinstance(value, str)
            or not value
            or isinstance(expires_in, bool)
            or not isinstance(expires_in, int | float)
            or expires_in < 0
        ):
            raise AdapterError(
                f"Accuro at {self.host}: the token response lacks access_token or expires_in"
            )
        secret = Secret(value)
        self._masks.add(value)
        refresh = body.get("refresh_token")
        if isinstance(refresh, str) and refresh:  # unused, but a secret all the same
            self._masks.add(refresh)
        margin = min(60.0, expires_in / 10)
        log.debug(
            "accuro: new %s token for tenant %s, expires in %ss",
            self.grant.value,
            self.tenant,
            expires_in,
        )
        return _Token(secret, self._clock() + expires_in - margin)

    def _token_refusal(self, path: str, response: httpx.Response) -> Exception:
        """The token endpoint said no: which setting to look at (FACTS.md §1a-§1b). The
        bodies are Spring Security OAuth2's (``error``, ``error_description``), Okta's (the
        same keys) or the guide's (``code``, ``message``)."""
        status, detail = response.status_code, self._detail(response)
        body = self._body(response)
        error = body.get("error") if isinstance(body.get("error"), str) else ""
        lowered = detail.lower()
        where = f"Accuro at {self.host}"
        password = self.grant is Grant.PASSWORD
        if status == 400 and error == "invalid_grant" and password:
            return EMRConnectionError(
                f"{where} refused the OceanAPI user's sign-in for tenant {self.tenant} "
                f"(HTTP 400: {detail}); check ocean_api_user.password, and that the user is "
                "active and not locked"
            )
        if status in (400, 401) and (
            error in ("unsupported_grant_type", "unauthorized_client") or "grant type" in lowered
        ):
            return EMRConnectionError(
                f"{where} does not offer the {self.grant.value} grant to this client for "
                f"tenant {self.tenant} (HTTP {status}: {detail}); check emr.api.grant"
            )
        if status == 401 and "office" in lowered:
            asked = f"office {self.login_office}" if self.login_office is not None else "no office"
            return EMRConnectionError(
                f"{where} refused the OceanAPI user's sign-in for tenant {self.tenant} with "
                f"{asked} (HTTP 401: {detail}); check emr.api.login_office"
            )
        if status == 401 and "tenant" in lowered:
            return EMRConnectionError(
                f"{where} refused the token request for tenant {self.tenant} "
                f"(HTTP 401: {detail}); check emr.api.tenant"
            )
        if status == 401:
            return EMRConnectionError(
                f"{where} refused the client credentials for tenant {self.tenant} "
                f"(HTTP 401: {detail}); check client_id and client_secret"
            )
        return self._refusal(path, response, "the token request")

    @staticmethod
    def _token_rejected(response: httpx.Response) -> bool:
        """A 401 about the token itself (renewing may help), not about the user or client."""
        if response.headers.get("WWW-Authenticate", "").lower().startswith("bearer"):
            return True
        try:
            body = response.json()
        except ValueError:
            return False
        if not isinstance(body, dict):
            return False
        return body.get("error") in ("invalid_token", "unauthorized") or body.get("code") == "401"

    # -- requests -----------------------------------------------------------------------
    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        query = {**(params or {}), "uuid": self.uuid}
        renewed = False
        while True:
            headers = {"Authorization": f"Bearer {self._bearer()}"}
            response = self._send("GET", path, params=query, headers=headers)
            if response.status_code == 401 and self._token_rejected(response):
                self._token = None
                if renewed:
                    raise EMRConnectionError(
                        f"Accuro at {self.host} rejected a newly issued token for GET {path} "
                        f"(HTTP 401: {self._detail(response)})"
                    )
                log.debug("accuro: token rejected for GET %s; renewing once", path)
                renewed = True
                continue
            if response.status_code == 200:
                return self._json(path, response)
            raise self._refusal(path, response, f"GET {path}")

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request, retried (see the module's docstring), every attempt through the
        host's budget: a 429 pauses the whole host for its ``Retry-After`` and the next
        attempt waits in :meth:`HostBudget.acquire` with every other clinic there."""
        headers = {SUBSCRIPTION_HEADER: self._key.reveal(), **kwargs.pop("headers", {})}
        url = self.base_url + path
        policy = self.retry
        for attempt in range(1, policy.attempts + 1):
            last = attempt == policy.attempts
            try:
                ticket = self._budget.acquire(max_wait=policy.max_retry_after)
            except HostPaused as paused:
                raise EMRConnectionError(
                    f"Accuro at {self.host} is rate limiting: it asked for a pause of "
                    f"{paused.seconds:.0f} more seconds before {method} {path}, longer than "
                    f"the {policy.max_retry_after:.0f} worth waiting for"
                ) from None
            try:
                response = self._http.request(
                    method, url, headers=headers, timeout=self._timeout, **kwargs
                )
            except httpx.TimeoutException as exc:
                ticket.done(Outcome.FAILED)
                if last:
                    raise EMRConnectionError(
                        f"Accuro at {self.host} did not answer {method} {path} in time "
                        f"({type(exc).__name__}, {_times(attempt)})"
                    ) from exc
                delay = self._backoff(attempt)
            except httpx.TransportError as exc:
                ticket.done(Outcome.FAILED)
                if last:
                    raise EMRConnectionError(
                        f"could not reach Accuro at {self.host} for {method} {path} "
                        f"({type(exc).__name__}, {_times(attempt)})"
                    ) from exc
                delay = self._backoff(attempt)
            except BaseException:
                ticket.done(Outcome.FAILED)
                raise
            else:
                status = response.status_code
                log.debug("accuro: %s %s -> %s (attempt %s)", method, path, status, attempt)
                if status == 429:
                    wait = self._retry_after(response, attempt)
                    ticket.done(Outcome.THROTTLED, retry_after=wait)
                    if wait > policy.max_retry_after:
                        raise EMRConnectionError(
                            f"Accuro at {self.host} is rate limiting: it asked for a pause of "
                            f"{wait:.0f} seconds before {method} {path}, longer than the "
                            f"{policy.max_retry_after:.0f} worth waiting for"
                        )
                    if last:
                        raise EMRConnectionError(
                            f"Accuro at {self.host} is rate limiting {method} {path} "
                            f"(HTTP 429 after {_times(attempt)})"
                        )
                    log.debug("accuro: %s paused for %.2fs by a 429", self.host, wait)
                    continue  # the next acquire() waits out the host's pause
                if status in RETRY_STATUSES:
                    ticket.done(Outcome.FAILED)
                    if last:
                        raise EMRConnectionError(
                            f"Accuro at {self.host} failed {method} {path} with HTTP {status} "
                            f"{attempt} times: {self._detail(response)}"
                        )
                    delay = self._backoff(attempt)
                else:
                    ticket.done(Outcome.OK)
                    return response
            log.debug("accuro: retrying %s %s in %.2fs", method, path, delay)
            self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, attempt: int) -> float:
        base: float = min(self.retry.backoff_max, self.retry.backoff * 2.0 ** (attempt - 1))
        return base * (0.5 + random.random() / 2)

    def _retry_after(self, response: httpx.Response, attempt: int) -> float:
        """Seconds a 429 asks to wait (seconds or an HTTP-date), else the backoff."""
        wait = retry_after(response.headers.get("Retry-After"))
        return self._backoff(attempt) if wait is None else wait

    # -- answers ------------------------------------------------------------------------
    def _json(self, path: str, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise AdapterError(
                f"Accuro at {self.host}: the answer to {path} is not JSON "
                f"(HTTP {response.status_code})"
            ) from None

    @staticmethod
    def _body(response: httpx.Response) -> dict[str, Any]:
        """The answer's JSON object, or an empty one."""
        try:
            body = response.json()
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    def _detail(self, response: httpx.Response) -> str:
        """The server's own message (``error_description``, ``error`` or ``message``),
        short, with this client's secrets masked; else the reason phrase."""
        try:
            body = response.json()
        except ValueError:
            body = None
        text = ""
        if isinstance(body, dict):
            for key in ("error_description", "error", "message"):
                if isinstance(body.get(key), str) and body[key].strip():
                    text = body[key]
                    break
        text = " ".join((text or response.reason_phrase or "no message").split())
        text = self._masks.mask(text)
        return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 3] + "..."

    def _refusal(self, path: str, response: httpx.Response, what: str) -> Exception:
        status, detail = response.status_code, self._detail(response)
        body: Any = None
        with contextlib.suppress(ValueError):
            body = response.json()
        if status == 401 and isinstance(body, dict) and "subscription key" in str(body):
            which = "a missing" if "missing" in str(body.get("message")) else "an invalid"
            return EMRConnectionError(
                f"Accuro's gateway at {self.host} refused {what}: {which} subscription key "
                "(HTTP 401); check subscription_key"
            )
        hint = ""
        if status == 400 and "uuid" in detail.lower():
            hint = "; check emr.api.uuid"
        elif status == 401 and "clinic not found" in detail:
            hint = "; check emr.api.tenant"
        elif status == 400 and path == "/v1/token" and "office" in detail.lower():
            hint = "; check emr.api.login_office"
        elif status == 400 and path == "/v1/token":
            hint = "; check the tenant and the scopes asked for"
        return AccuroApiError(
            f"Accuro at {self.host} refused {what} (HTTP {status}: {detail}){hint}",
            status=status,
            path=path,
            detail=detail,
        )


def _times(attempts: int) -> str:
    return "1 attempt" if attempts == 1 else f"{attempts} attempts"
