"""Schema and semantic checks, through load_clinics as `validate` uses them."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.config import load_clinics
from reconciler.diagnostics import Severity
from reconciler.emr.accuro.spec import ALL_PERMISSIONS, Permission, UndeclaredPolicy
from reconciler.errors import UsageError
from tests.conftest import WriteClinic, doc

TODAY = date(2026, 11, 22)


def messages(path: Path) -> list[str]:
    return [d.format().split(": ", 1)[1] for d in load_clinics([path], TODAY).diagnostics]


def test_valid_documents_build_the_model(write_clinic: WriteClinic) -> None:
    write_clinic(doc("accuro"), "a.yaml")
    path = write_clinic(doc("oscar"), "o.yaml")
    result = load_clinics([path.parent], TODAY)
    assert result.diagnostics == []
    accuro, oscar = sorted(result.clinics, key=lambda c: c.emr)
    grants = accuro.spec.ocean_api_user.offices[0].providers
    assert grants[0].name == "Smith, Jane" and grants[0].permissions == ALL_PERMISSIONS
    assert grants[1].provider_id == 1042
    assert accuro.spec.ocean_api_user.undeclared_providers is UndeclaredPolicy.REPORT
    assert accuro.spec.full_schedule_sync is True
    login = oscar.spec.login
    assert (login.pin_remote, login.pin_local, login.force_password_reset) == (True, False, False)
    assert login.password is not None and login.password.describe() == "{env: T_OC_PASSWORD}"
    assert oscar.spec.roles == ("doctor",) and oscar.spec.primary_role == "doctor"


def test_explicit_permissions_are_kept(write_clinic: WriteClinic) -> None:
    data = doc("accuro")
    data["ocean_api_user"]["offices"][0]["providers"][0]["permissions"] = ["patient", "labs"]
    clinic = load_clinics([write_clinic(data)], TODAY).clinics[0]
    first = clinic.spec.ocean_api_user.offices[0].providers[0]
    assert first.permissions == {Permission.PATIENT, Permission.LABS}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"version": 2}, "version: must be 1"),
        ({"clinic__id": "Bad_Id"}, "clinic.id: must be lowercase letters"),
        ({"emr__kind": "medesync"}, "emr.kind: unknown value 'medesync'"),
        ({"emr__edition": "pr"}, "emr.edition: unknown value 'pr'; did you mean 'pro'?"),
        ({"ocean_connect__roles": "doctor"}, "ocean_connect.roles: must be a list, not a string"),
        (
            {"ocean_connect__provider__number": 999990},
            'ocean_connect.provider.number: must be a string, not an integer (quote it: "999990")',
        ),
        ({"ocean_connect__login__pin_local": "no"}, "pin_local: must be true or false"),
        ({"ocean_connect__login__expires": "31/12/2027"}, "expires: must be a valid date"),
        (
            {"ocean_connect__roles": ["doctor", "doctor"]},
            "roles: lists the same item more than once",
        ),
    ],
)
def test_schema_errors(write_clinic: WriteClinic, changes: dict[str, Any], expected: str) -> None:
    found = messages(write_clinic(doc("oscar", **changes)))
    assert any(expected in m for m in found), found


def test_missing_and_unknown_fields(write_clinic: WriteClinic) -> None:
    data = doc("oscar")
    del data["ocean_connect"]["login"]["username"]
    data["ocean_connect"]["login"]["pin_remot"] = True
    found = messages(write_clinic(data))
    assert "ocean_connect.login.username: missing required field 'username'" in found
    assert any("unknown field 'pin_remot'; did you mean 'pin_remote'?" in m for m in found)


def test_oscar_requires_its_blocks(write_clinic: WriteClinic) -> None:
    data = doc("oscar")
    del data["ocean_connect"]
    del data["emr"]["backend"]
    found = messages(write_clinic(data))
    assert "ocean_connect: missing required field 'ocean_connect'" in found
    assert "emr.backend: missing required field 'backend'" in found


def test_literal_secret_is_rejected_without_echoing_it(write_clinic: WriteClinic) -> None:
    path = write_clinic(doc("oscar", ocean_connect__login__password="hunter2-very-secret"))
    found = messages(path)
    assert any("literal secret is not allowed" in m and "{env: " in m for m in found)
    assert not any("hunter2" in m for m in found)


def test_secret_reference_needs_exactly_one_source(write_clinic: WriteClinic) -> None:
    path = write_clinic(doc("oscar", ocean_connect__login__pin={"env": "A", "file": "b"}))
    assert any("exactly one of" in m for m in messages(path))


def test_unknown_permission_has_did_you_mean(write_clinic: WriteClinic) -> None:
    data = doc("accuro")
    data["ocean_api_user"]["offices"][0]["providers"][0]["permissions"] = ["patient", "shceduling"]
    found = messages(write_clinic(data))
    assert any("unknown permission 'shceduling'; did you mean 'scheduling'?" in m for m in found)


def test_provider_needs_exactly_one_of_name_or_id(write_clinic: WriteClinic) -> None:
    data = doc("accuro")
    data["ocean_api_user"]["offices"][0]["providers"] = [{"name": "A, B", "id": 3}, {}]
    found = messages(write_clinic(data))
    assert sum("give exactly one of name or id" in m for m in found) == 2


def test_duplicate_offices_and_providers(write_clinic: WriteClinic) -> None:
    data = doc("accuro")
    office = data["ocean_api_user"]["offices"][0]
    office["providers"] += [{"name": "smith,  jane "[:-1].replace(",  ", ", ")}, {"id": 1042}]
    data["ocean_api_user"]["offices"].append(
        {"name": "main street office", "providers": [{"id": 1}]}
    )
    found = messages(write_clinic(data))
    assert any("provider id 1042 is listed twice in this office" in m for m in found)
    assert any("provider name 'smith, jane' is listed twice" in m for m in found)
    assert any("office 'main street office' is declared twice (first on line" in m for m in found)


def test_same_provider_in_two_offices_is_fine(write_clinic: WriteClinic) -> None:
    data = doc("accuro")
    data["ocean_api_user"]["offices"].append({"name": "Walk-In", "providers": [{"id": 1042}]})
    assert messages(write_clinic(data)) == []


def test_usernames(write_clinic: WriteClinic) -> None:
    spaced = messages(write_clinic(doc("accuro", ocean_api_user__username="Ocean API")))
    assert "ocean_api_user.username: must not contain spaces" in spaced
    result = load_clinics(
        [write_clinic(doc("accuro", ocean_api_user__username="ocean-int"))], TODAY
    )
    (warning,) = result.diagnostics
    assert warning.severity is Severity.WARNING and "OceanAPI<tenant id>" in warning.message
    assert ": warning: " in warning.format()
    assert len(result.clinics) == 1  # a warning does not stop the clinic from loading
    login = messages(write_clinic(doc("oscar", ocean_connect__login__username="Ocean Connect")))
    assert any("login.username: must not contain spaces" in m for m in login)


def test_expiry_in_the_past_is_an_error(write_clinic: WriteClinic) -> None:
    past = messages(write_clinic(doc("oscar", ocean_connect__login__expires="2026-11-21")))
    assert any("2026-11-21 is in the past" in m for m in past)
    # OSCAR compares the date (midnight) with the moment of login: the day itself is refused
    today = messages(write_clinic(doc("oscar", ocean_connect__login__expires="2026-11-22")))
    assert any("2026-11-22 is today" in m for m in today)
    assert messages(write_clinic(doc("oscar", ocean_connect__login__expires="2026-11-23"))) == []


def test_primary_role_must_be_among_roles(write_clinic: WriteClinic) -> None:
    found = messages(write_clinic(doc("oscar", ocean_connect__primary_role="admin")))
    assert "ocean_connect.primary_role: primary role 'admin' is not among roles (doctor)" in found


def test_fields_of_the_other_emr_kind(write_clinic: WriteClinic) -> None:
    oscar = doc("oscar")
    oscar["ocean_api_user"] = doc("accuro")["ocean_api_user"]
    oscar["emr"]["api"] = {"base_url": "https://x"}
    found = messages(write_clinic(oscar))
    assert (
        "ocean_api_user: 'ocean_api_user' is for Accuro clinics; this clinic's emr.kind is oscar"
        in found
    )
    assert any("'emr.api' is for Accuro clinics" in m for m in found)
    assert not any("base_url" in m or "missing required" in m for m in found), found
    accuro = doc("accuro")
    accuro["ocean_connect"] = {"roles": ["doctor"]}
    accuro["emr"]["backend"] = "sql"
    found = messages(write_clinic(accuro))
    assert any("'ocean_connect' is for OSCAR clinics" in m for m in found)
    assert any("'emr.backend' is for OSCAR clinics" in m for m in found)


def test_http_only_for_loopback(write_clinic: WriteClinic) -> None:
    plain = messages(
        write_clinic(
            doc(
                "accuro",
                emr__api={**doc("accuro")["emr"]["api"], "base_url": "http://accuro.example.org"},
            )
        )
    )
    assert any("must use https" in m for m in plain)
    for url in ("http://127.0.0.1:8080", "http://localhost:9000", "http://[::1]:80"):
        api = {**doc("accuro")["emr"]["api"], "base_url": url}
        assert messages(write_clinic(doc("accuro", emr__api=api))) == [], url


def test_oscar_backend_rules(write_clinic: WriteClinic) -> None:
    data = doc("oscar")
    del data["emr"]["database"]
    assert any("backend sql needs database.url" in m for m in messages(write_clinic(data)))
    pro_auth = messages(write_clinic(doc("oscar", ocean_connect__pro_auth=True)))
    assert any("Pro Authentication exists only on OSCAR Pro" in m for m in pro_auth)
    data = doc("oscar")
    del data["ocean_connect"]["login"]["pin"]
    assert any("login pin is needed" in m for m in messages(write_clinic(data)))


def test_duplicate_clinic_ids_across_files(write_clinic: WriteClinic) -> None:
    write_clinic(doc("oscar"), "a.yaml")
    path = write_clinic(doc("oscar"), "b.yaml")
    result = load_clinics([path.parent], TODAY)
    (diag,) = result.errors
    assert diag.file.endswith("b.yaml") and diag.field == "clinic.id"
    assert "already used by" in diag.message and "a.yaml:" in diag.message
    assert len(result.clinics) == 1


def test_every_problem_of_every_file_is_reported(write_clinic: WriteClinic) -> None:
    write_clinic("version: 1\nclinic: {id: x, id: y}\n", "dup.yaml")
    write_clinic(doc("oscar", version=3, ocean_connect__primary_role="nurse"), "two.yaml")
    path = write_clinic(b"\xff\xfe", "binary.yaml")
    result = load_clinics([path.parent], TODAY)
    files = {d.file.rsplit("/", 1)[-1] for d in result.errors}
    assert files == {"dup.yaml", "two.yaml", "binary.yaml"}
    assert len([d for d in result.errors if d.file.endswith("two.yaml")]) == 2


def test_discovery(tmp_path: Path, write_clinic: WriteClinic) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no clinic files"):
        load_clinics([tmp_path / "empty"], TODAY)
    with pytest.raises(UsageError, match="no such file or folder"):
        load_clinics([tmp_path / "nope.yaml"], TODAY)
    write_clinic(doc("oscar"), "sub/deep.yml")
    write_clinic("not: [valid", ".hidden/skip.yaml")
    (tmp_path / "clinics" / "notes.txt").write_text("ignored")
    result = load_clinics([tmp_path / "clinics"], TODAY)
    assert [Path(f).name for f in result.files] == ["deep.yml"]


def test_diagnostics_are_sorted_by_position(write_clinic: WriteClinic) -> None:
    data = doc("oscar", ocean_connect__primary_role="x", clinic__id="BAD")
    lines = [d.line for d in load_clinics([write_clinic(data)], TODAY).diagnostics]
    assert lines == sorted(lines)


def test_example_clinics_are_valid() -> None:
    root = Path(__file__).resolve().parents[2]
    result = load_clinics([root / "clinics"], TODAY)
    assert result.diagnostics == []
    kinds = {(c.emr, getattr(c.spec, "backend", None)) for c in result.clinics}
    assert len(result.clinics) >= 3 and ("accuro", None) in kinds
    accuro = next(c for c in result.clinics if c.emr == "accuro")
    offices = accuro.spec.ocean_api_user.offices
    assert len(offices) >= 2
    assert len({p.key for o in offices for p in o.providers}) >= 5
    for path in (root / "clinics").glob("*.yaml"):
        assert path.read_text().startswith("# yaml-language-server: $schema=")


def test_yaml_dump_roundtrip_of_example_matches_schema_defaults() -> None:
    # the defaults the schema documents are the defaults the model applies
    from reconciler.config.schema import clinic_schema

    login = clinic_schema()["properties"]["ocean_connect"]["properties"]["login"]["properties"]
    assert (login["pin_remote"]["default"], login["pin_local"]["default"]) == (True, False)
    assert yaml.safe_load("x: 1") == {"x": 1}
