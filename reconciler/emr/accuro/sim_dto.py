"""The simulator's JSON: Accuro's DTOs and error bodies, in the shapes FACTS.md records.

Error bodies come from three places in a real deployment, and each keeps its own shape:

- the token endpoint (QHR's Token API, documented only by the guide):
  ``{"code": "400", "message": "Bad Request"}`` and ``{"code": "401", ...}``; a refused
  password grant answers as Accuro's own OAuth server (Spring Security OAuth2, FACTS §1b):
  ``{"error": "invalid_grant" | "unauthorized" | "invalid_request", "error_description"}``;
- the API gateway (Azure API Management, [I] FACTS §1d/§3): ``{"statusCode": N, "message"}``
  for a missing or invalid subscription key, rate limits and gateway 5xx;
- the REST API itself: ``{"error": "..."}``, and Spring Security's
  ``{"error": "invalid_token", "error_description": "..."}`` for tokens.
"""

from __future__ import annotations

from typing import Any

from reconciler.emr.accuro.sim_seed import Cell, SeedOffice, SeedProvider, SeedUser
from reconciler.emr.accuro.sim_state import TenantState
from reconciler.emr.accuro.spec import Permission

Body = dict[str, Any] | list[Any]


class Reply(Exception):
    """A response, raised from anywhere in the handling of a request."""

    def __init__(self, status: int, body: Body, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


TOKEN_BAD_REQUEST: Body = {"code": "400", "message": "Bad Request"}
TOKEN_UNAUTHORIZED: Body = {"code": "401", "message": "Unauthorized"}
MISSING_KEY: Body = {
    "statusCode": 401,
    "message": "Access denied due to missing subscription key. Make sure to include "
    "subscription key when making requests to an API.",
}
INVALID_KEY: Body = {
    "statusCode": 401,
    "message": "Access denied due to invalid subscription key. Make sure to provide a valid "
    "key for an active subscription.",
}
NO_AUTHENTICATION: Body = {
    "error": "unauthorized",
    "error_description": "Full authentication is required to access this resource",
}
ACCESS_DENIED = "Access is denied"
NOT_FOUND = "Resource not found."
UUID_MISSING = "Required Parameter Missing."
UUID_INVALID = "Invalid UUID"
UUID_MISMATCH = "The requested database uuid does not match one associated with your ACRON"
CLINIC_NOT_FOUND = "Configuration error: Accuro clinic not found."
CLIENT_NOT_AUTHORIZED = "Provided clientId is not authorized to access the resources."
MODULE_DISABLED = "Rest API Service is not enabled for this client."
USER_GONE = "The user associated with your token no longer exists."
USER_DEACTIVATED = "The user associated with your token has been deactivated."
NO_EXTERNAL_ACCESS = "External access is not enabled for this user."
PERMISSIONS_TYPE_REQUIRED = "permissionsType is required."
# The password grant (FACTS §1b): Spring Security's default texts for a bad password, a
# disabled and a locked user, and AccuroLoginAuthenticationProvider's for offices and tenant.
BAD_CREDENTIALS = "Bad credentials"
USER_DISABLED = "User is disabled"
USER_LOCKED = "User account is locked"
OFFICE_REQUIRED = "Office must be supplied when authenticating a provider using password grant."
OFFICE_NOT_THE_USERS = "User does not belong to the requested Office."
NO_OFFICE_AT_ALL = "User does not belong to any Office."
OFFICE_NOT_A_NUMBER = "Office must be an integer."  # [I]: no text in the sources
INVALID_TENANT = "Invalid tenant id."
SERVER_ERROR = "We are unable to retrieve database information. Please try again later. "


def error(message: str) -> Body:
    """The REST API's own error body (``ErrorResponse``)."""
    return {"error": message}


def oauth_error(error: str, description: str) -> Body:
    """Spring Security OAuth2's token-endpoint error body."""
    return {"error": error, "error_description": description}


def invalid_token(description: str) -> Body:
    """Spring Security's body for a bad or expired bearer token."""
    return {"error": "invalid_token", "error_description": description}


def rate_limited(seconds: int) -> Body:
    """API Management's default rate-limit body (its 429 also sends ``Retry-After``)."""
    return {
        "statusCode": 429,
        "message": f"Rate limit is exceeded. Try again in {seconds} seconds.",
    }


def server_error(status: int) -> Body:
    """A 500 from the API, or a gateway's 502/503/504."""
    if status == 500:
        return error(SERVER_ERROR)
    return {"statusCode": status, "message": "The service is temporarily unavailable."}


def office(o: SeedOffice) -> Body:
    """An ``OfficeDto`` (address, phones and email left null)."""
    return {
        "officeId": o.office_id,
        "name": o.name,
        "address": None,
        "officePhone": None,
        "fax": None,
        "email": None,
        "website": None,
        "facilityNumber": o.facility_number,
        "abbreviation": o.abbreviation,
        "active": o.active,
    }


def provider(p: SeedProvider) -> Body:
    """A ``ProviderDto``: ``email`` is an ``EmailDto`` object, status is ``statusId``."""
    return {
        "providerId": p.provider_id,
        "statusId": p.status_id,
        "typeId": 1,
        "title": p.title,
        "firstName": p.first_name,
        "middleName": None,
        "lastName": p.last_name,
        "suffix": None,
        "address": None,
        "phones": [],
        "email": {"address": p.email, "order": 0} if p.email else None,
        "specialty": None,
        "defaultOffice": p.offices[0] if p.offices else None,
        "cpsoNumber": None,
        "practitionerNumber": None,
    }


def user(u: SeedUser) -> Body:
    """An ``AccuroUserDto`` (``lockedDate`` as the documented string)."""
    return {
        "userId": u.user_id,
        "providerId": u.provider_id,
        "supervisorUserId": None,
        "username": u.username,
        "displayName": " ".join(x for x in (u.first_name, u.last_name) if x) or u.username,
        "activeDirectoryUser": None,
        "systemAdmin": u.system_admin,
        "note": None,
        "lockedDate": u.locked_date,
        "active": u.active,
        "firstName": u.first_name,
        "lastName": u.last_name,
        "homePhone": None,
        "cellPhone": None,
        "workPhone": None,
        "email": None,
        "address": None,
    }


def envelope(contents: list[Body], total: int, last_id: int | None) -> Body:
    """An ``EnvelopeDto``."""
    return {"contents": contents, "count": len(contents), "total": total, "lastId": last_id}


def whoami(
    state: TenantState,
    tenant: str,
    scopes: tuple[str, ...],
    u: SeedUser | None,
    grant_type: str = "client_credentials",
) -> Body:
    """A ``UserInfoDto``, with the detail of the user the token acts as: the client's
    Service User (client credentials) or the user who signed in (password)."""
    body: dict[str, Any] = {
        "tenant": tenant,
        "scopes": list(scopes),
        "grantType": grant_type,
        "province": state.seed.province,
    }
    if u is None:
        return body
    name = f"{u.first_name} {u.last_name}"
    offices = [o.office_id for o in state.user_offices(u.user_id)]
    body["authGrantTypeDetail"] = {
        "id": u.username,
        "userId": u.user_id,
        "providerId": u.provider_id,
        "name": name,
        "phones": [],
        "addresses": [],
        "email": None,
        "officeRoles": [{"officeId": o, "roleIds": []} for o in offices],
    }
    return body


def grid_row(office_id: int, provider_id: int, cell: Cell) -> Body:
    """One row as the admin endpoint shows it: every column, its level or null (Visible has
    no level: true or null)."""

    def shown(column: Permission) -> str | bool | None:
        if column not in cell:
            return None
        return True if column is Permission.VISIBLE else cell[column].value

    return {
        "office": office_id,
        "provider": provider_id,
        "permissions": {c.value: shown(c) for c in Permission},
    }
