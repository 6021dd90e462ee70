"""The CLI end to end for an Accuro clinic, against the Accuro simulator over real sockets:
plan, apply (a checklist), a person ticking boxes, confirm, plan again; and what goes wrong."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from reconciler.cli import cli
from reconciler.emr.accuro.sim_seed import Level
from reconciler.emr.accuro.simulator import Simulator, running_simulator
from reconciler.emr.accuro.spec import Permission
from reconciler.exitcodes import ExitCode
from tests.conftest import ROOT
from tests.emr.accuro.conftest import (
    CLIENT_SECRET,
    ENV,
    OCEAN_USER,
    SUBSCRIPTION_KEY,
    example_data,
    make_seed,
    rest_requests,
    token_requests,
)

OCEAN_PASSWORD = "OceanAPI-pw-7c1e9!"
ROW = "accuro.provider_permissions[OceanAPI12345/{office}/{provider}]"
MAIN, WALK_IN = "Main Street Office", "Lakeshore Walk-In Clinic"
# The example clinic file's grid: (office id, provider id) -> the columns it wants.
SIX = frozenset(Permission)
WANTED = {
    (1, 1001): SIX,
    (1, 1002): SIX,
    (1, 1042): SIX,
    (1, 1003): SIX - {Permission.BILLING},
    (2, 1001): SIX,
    (2, 1004): SIX,
    (2, 1005): SIX,
}

Run = Callable[..., Result]
WriteFile = Callable[..., Path]


def clinic_data(sim: Simulator, **api: Any) -> dict[str, Any]:
    """The example clinic file, pointed at ``sim``."""
    data: dict[str, Any] = yaml.safe_load(
        (ROOT / "clinics" / "lakeside-medical.yaml").read_text(encoding="utf-8")
    )
    data["emr"]["api"].update({"base_url": sim.base_url, **api})
    return data


@pytest.fixture
def sim() -> Iterator[Simulator]:
    data = example_data()
    for user in data["users"]:
        if user["username"] == OCEAN_USER:
            user["password"] = OCEAN_PASSWORD
    with running_simulator(make_seed(data)) as running:
        yield running


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LAKESIDE_OCEANAPI_PASSWORD", OCEAN_PASSWORD)
    monkeypatch.setenv("RECONCILER_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    monkeypatch.setenv("RECONCILER_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("RECONCILER_CHECKLIST_DIR", str(tmp_path / "checklists"))

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return invoke


@pytest.fixture
def write(tmp_path: Path) -> WriteFile:
    def make(data: dict[str, Any], name: str = "lakeside-medical") -> Path:
        folder = tmp_path / "clinics"
        folder.mkdir(exist_ok=True)
        path = folder / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), "utf-8")
        return path

    return make


def tick_everything(sim: Simulator) -> None:
    """A person sets every box exactly as the clinic file wants, and saves."""
    for (office, provider), wanted in WANTED.items():
        cells = {p: (Level.FULL if p in wanted else None) for p in Permission}
        sim.state.set_cells(OCEAN_USER, office, provider, cells)


GRANTS = pytest.mark.parametrize(
    "grant", ["password", "client_credentials"], ids=["password-grant", "client-credentials"]
)


@GRANTS
def test_plan_shows_the_missing_boxes_with_their_impact(
    sim: Simulator, run: Run, write: WriteFile, grant: str
) -> None:
    path = write(clinic_data(sim, grant=grant))
    result = run("plan", str(path), "--detailed-exitcode")
    assert result.exit_code == ExitCode.CHANGES, result.output
    out = result.output
    okafor = ROW.format(office=MAIN, provider=1002)
    assert f"+ {okafor}  grant  (manual)" in out
    assert 'scheduling: "observed none" -> "granted"' in out  # the API shows it
    assert 'patient: "unverified" -> "granted"' in out  # the API cannot show it
    assert "miss the Day Sheet, reminder emails are not sent" in out
    assert "goes missing from Ocean's Patients page" in out
    assert "* ocean.full_schedule_sync  step (manual)" in out
    # Patel's Scheduling at the Walk-In Clinic is observed as wanted: not planned again.
    patel = out.split(ROW.format(office=WALK_IN, provider=1004))[1].split("why:")[0]
    assert "scheduling" not in patel
    assert "note: Provider Permissions, 42 cells: 2 verified by Accuro's API" in out


@pytest.mark.parametrize(
    ("grant", "rest"),
    [
        # users, users/{id}/offices, 2 x accessible-providers, one per declared office
        ("password", 4 + 2),
        # whoami, offices, users, 2 x accessible-providers, one per declared office
        ("client_credentials", 5 + 2),
    ],
    ids=["password-grant", "client-credentials"],
)
def test_the_adapter_reads_a_fixed_number_of_requests(
    sim: Simulator, run: Run, write: WriteFile, grant: str, rest: int
) -> None:
    result = run("plan", str(write(clinic_data(sim, grant=grant))))
    assert result.exit_code == 0, result.output
    assert len(rest_requests(sim)) == rest
    assert token_requests(sim) == 1
    # At most (declared offices + 5) requests, the token included, with the password grant.
    if grant == "password":
        assert len(rest_requests(sim)) + token_requests(sim) == 2 + 5
        assert not rest_requests(sim, "/rest/v1/whoami")
        assert not rest_requests(sim, "/rest/v1/offices")


def test_a_declared_office_the_user_lacks_costs_one_more_request(
    sim: Simulator, run: Run, write: WriteFile
) -> None:
    """Password grant: /v1/offices is read only to tell an office the user lacks from one
    Accuro does not have."""
    sim.state.set_user(OCEAN_USER, offices=(1,))
    result = run("plan", str(write(clinic_data(sim, grant="password"))))
    assert result.exit_code == 0, result.output
    assert f"+ accuro.user_office[OceanAPI12345/{WALK_IN}]  grant" in result.output
    assert len(rest_requests(sim, "/rest/v1/offices")) == 1
    assert not rest_requests(sim, "/rest/v1/whoami")
    assert len(rest_requests(sim)) + token_requests(sim) == 2 + 6


def test_a_declared_office_accuro_lacks_names_the_closest_with_the_password_grant(
    sim: Simulator, run: Run, write: WriteFile
) -> None:
    data = clinic_data(sim, grant="password")
    data["ocean_api_user"]["offices"][1]["name"] = "Lakeshore Walkin Clinic"
    result = run("plan", str(write(data)))
    assert result.exit_code == ExitCode.INVALID, result.output
    assert "no Accuro office is named exactly 'Lakeshore Walkin Clinic'" in result.output
    assert f"closest: '{WALK_IN}'" in result.output


@GRANTS
def test_the_whole_loop_apply_tick_confirm_plan_is_clean(
    sim: Simulator, run: Run, write: WriteFile, tmp_path: Path, grant: str
) -> None:
    path = write(clinic_data(sim, grant=grant))
    applied = run("apply", str(path), "--auto-approve")
    assert applied.exit_code == 0, applied.output
    checklist = (tmp_path / "checklists" / "lakeside-medical.md").read_text("utf-8")
    assert "# Checklist: Lakeside Medical Centre (lakeside-medical)" in checklist
    assert "**Users > Manage Security**" in checklist and "**OceanAPI12345**" in checklist
    assert "| Okafor, Chidi (id 1002) | **check** | **check** |" in checklist
    assert "| Nguyen, Linh (id 1003) | **check** |" in checklist and "**clear**" in checklist
    assert "Press **Save**" in checklist and "Sync Full Schedule" in checklist
    assert "reconcile confirm lakeside-medical" in checklist
    assert "checklist: " in applied.output

    tick_everything(sim)
    confirmed = run("confirm", "lakeside-medical", str(path), "--all", "--by", "Dana Lee")
    assert confirmed.exit_code == 0, confirmed.output
    state = yaml.safe_load((tmp_path / "state" / "lakeside-medical.yaml").read_text("utf-8"))
    assert state["clinic"] == "lakeside-medical" and state["version"] == 1
    assert {r["by"] for r in state["confirmations"]} == {"Dana Lee"}

    again = run("plan", str(path), "--detailed-exitcode")
    assert again.exit_code == 0, again.output
    assert "lakeside-medical (accuro, Lakeside Medical Centre): in sync" in again.output
    assert "5 verified by Accuro's API, 37 only confirmed by a person" in again.output
    assert "latest confirmation: Dana Lee" in again.output
    assert run("validate", str(path)).exit_code == 0


def test_a_confirmation_the_api_contradicts_is_drift(
    sim: Simulator, run: Run, write: WriteFile
) -> None:
    path = write(clinic_data(sim))
    okafor = ROW.format(office=MAIN, provider=1002)
    confirmed = run("confirm", "lakeside-medical", str(path), "--change", okafor, "--by", "Sam")
    assert confirmed.exit_code == 0, confirmed.output
    out = run("plan", str(path)).output
    assert 'scheduling: "observed none, though Sam (' in out
    assert 'confirmed it granted" -> "granted"' in out
    assert "Accuro contradicts what was confirmed for Scheduling" in out
    assert "1 contradicted by the API" in out
    # The other five columns of that row are now taken from Sam's word.
    row = out.split(okafor)[1].split("why:")[0]
    assert "patient" not in row and "billing" not in row


def test_a_stale_saved_plan_is_refused(
    sim: Simulator, run: Run, write: WriteFile, tmp_path: Path
) -> None:
    path = write(clinic_data(sim))
    saved = tmp_path / "plan.json"
    assert run("plan", str(path), "--out", str(saved)).exit_code == 0
    sim.state.set_cells(OCEAN_USER, 1, 1002, {Permission.SCHEDULING: Level.FULL})
    result = run("apply", str(path), "--plan", str(saved))
    assert result.exit_code == ExitCode.REFUSED, result.output
    assert "is stale" in result.output and "Office/1002] changed since the plan" in result.output


def test_a_renamed_office_names_the_line_and_the_closest_name(
    sim: Simulator, run: Run, write: WriteFile
) -> None:
    data = clinic_data(sim)
    data["ocean_api_user"]["offices"][0]["name"] = "Main St. Office"
    path = write(data)
    result = run("plan", str(path))
    assert result.exit_code == ExitCode.INVALID, result.output
    assert f"{path.name}:" in result.output or "clinics/lakeside-medical.yaml:" in result.output
    assert "ocean_api_user.offices[0].name: no Accuro office is named exactly" in result.output
    assert "closest: 'Main Street Office'" in result.output


def test_one_clinics_error_does_not_stop_the_others(
    sim: Simulator, run: Run, write: WriteFile, tmp_path: Path
) -> None:
    good = clinic_data(sim)
    bad = clinic_data(sim)
    bad["clinic"]["id"] = "lakeside-two"
    bad["ocean_api_user"]["offices"][1]["name"] = "Lakeshore Walk In Clinic"
    write(good)
    write(bad, "lakeside-two")
    result = run("plan", str(tmp_path / "clinics"))
    assert result.exit_code == ExitCode.INVALID, result.output
    assert "lakeside-medical (accuro, Lakeside Medical Centre): 8 changes" in result.output
    assert "closest: 'Lakeshore Walk-In Clinic'" in result.output


def test_an_ambiguous_provider_lists_the_candidates(
    run: Run, write: WriteFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = example_data()
    data["providers"].append({"providerId": 2001, "firstName": "Jane", "lastName": "Smith",
                              "offices": [1]})  # fmt: skip
    with running_simulator(make_seed(data)) as sim:
        result = run("plan", str(write(clinic_data(sim, grant="client_credentials"))))
    assert result.exit_code == ExitCode.INVALID, result.output
    assert "'Smith, Jane' matches 2 providers of 'Main Street Office'" in result.output
    assert "(id 1001)" in result.output and "(id 2001)" in result.output
    assert "write `id: <providerId>`" in result.output


def test_unknown_provider_name_and_id(sim: Simulator, run: Run, write: WriteFile) -> None:
    data = clinic_data(sim)
    data["ocean_api_user"]["offices"][0]["providers"][1] = {"name": "Okafor, Chid"}
    data["ocean_api_user"]["offices"][1]["providers"][0] = {"id": 1042}
    result = run("plan", str(write(data)))
    assert result.exit_code == ExitCode.INVALID, result.output
    assert "providers[1].name: no provider of the Accuro office 'Main Street Office'" in (
        result.output
    )
    assert "closest: 'Okafor, Chidi' (id 1002)" in result.output


def test_a_provider_id_not_in_the_office(sim: Simulator, run: Run, write: WriteFile) -> None:
    data = clinic_data(sim)
    data["ocean_api_user"]["offices"][1]["providers"][0] = {"id": 1042}
    result = run("plan", str(write(data)))
    assert result.exit_code == ExitCode.INVALID, result.output
    assert "providers[0].id: provider id 1042 is not a provider of the Accuro office" in (
        result.output
    )


def test_an_unknown_user(sim: Simulator, run: Run, write: WriteFile) -> None:
    data = clinic_data(sim, grant="client_credentials")
    data["ocean_api_user"]["username"] = "OceanAPI99999"
    result = run("plan", str(write(data)))
    assert result.exit_code == ExitCode.INVALID, result.output
    assert "ocean_api_user.username: Accuro at" in result.output
    assert "has no user named exactly 'OceanAPI99999'" in result.output


def test_a_locked_system_admin_user_is_reported(sim: Simulator, run: Run, write: WriteFile) -> None:
    sim.state.set_user(OCEAN_USER, system_admin=True, locked_date="2026-11-30T09:00:00.000")
    result = run("plan", str(write(clinic_data(sim, grant="client_credentials"))))
    assert result.exit_code == 0, result.output
    assert "~ accuro.user[OceanAPI12345]  update  (manual)" in result.output
    assert "locked: true -> false" in result.output
    assert "system_admin: true -> false" in result.output


@GRANTS
def test_a_user_without_access_to_an_office(
    sim: Simulator, run: Run, write: WriteFile, grant: str
) -> None:
    sim.state.set_user(OCEAN_USER, offices=(1,))
    result = run("plan", str(write(clinic_data(sim, grant=grant))))
    assert "+ accuro.user_office[OceanAPI12345/Lakeshore Walk-In Clinic]  grant" in (result.output)


def test_a_deactivated_user_is_said_plainly(sim: Simulator, run: Run, write: WriteFile) -> None:
    sim.state.set_user(OCEAN_USER, active=False)
    result = run("plan", str(write(clinic_data(sim, grant="client_credentials"))))
    assert result.exit_code == ExitCode.EMR_FAILED, result.output
    assert "is deactivated" in result.output


@pytest.mark.parametrize(
    ("env", "value", "expected"),
    [
        ("LAKESIDE_ACCURO_CLIENT_SECRET", "not-the-secret-1234", "check client_id and"),
        ("LAKESIDE_ACCURO_SUBSCRIPTION_KEY", "not-the-key-123456", "subscription key"),
    ],
)
def test_bad_credentials(
    sim: Simulator,
    run: Run,
    write: WriteFile,
    monkeypatch: pytest.MonkeyPatch,
    env: str,
    value: str,
    expected: str,
) -> None:
    monkeypatch.setenv(env, value)
    result = run("plan", str(write(clinic_data(sim, grant="client_credentials"))))
    assert result.exit_code == ExitCode.EMR_FAILED, result.output
    assert expected in result.output
    assert value not in result.output


def test_a_wrong_ocean_password(
    sim: Simulator, run: Run, write: WriteFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAKESIDE_OCEANAPI_PASSWORD", "wrong-password-42")
    result = run("plan", str(write(clinic_data(sim))))
    assert result.exit_code == ExitCode.EMR_FAILED, result.output
    assert "ocean_api_user.password" in result.output
    assert "wrong-password-42" not in result.output


def test_a_wrong_uuid(sim: Simulator, run: Run, write: WriteFile) -> None:
    data = clinic_data(sim, uuid="00000000-0000-4000-8000-000000000000")
    result = run("plan", str(write(data)))
    assert result.exit_code == ExitCode.EMR_FAILED, result.output
    assert "check emr.api.uuid" in result.output


def test_a_token_that_expires_in_the_middle_of_a_plan_is_renewed(
    sim: Simulator, run: Run, write: WriteFile
) -> None:
    real = sim.state.now

    def clock() -> float:
        # Two hours pass on the API's side once it has answered three calls.
        answered = sum(1 for r in sim.state.requests if r.path != "/v1/token")
        return real() + (7200 if answered >= 3 else 0)

    sim.state.now = clock
    result = run("plan", str(write(clinic_data(sim))))
    assert result.exit_code == 0, result.output
    assert "0 errors" in result.output and "manual" in result.output
    assert sum(1 for r in sim.state.requests if r.path == "/v1/token") == 2


def test_a_token_rejected_as_soon_as_it_is_issued_is_an_error_not_a_loop(
    sim: Simulator, run: Run, write: WriteFile
) -> None:
    sim.state.token_lifetime = 0
    result = run("plan", str(write(clinic_data(sim))))
    assert result.exit_code == ExitCode.EMR_FAILED, result.output
    # The password grant's first REST call is the user look-up (no whoami).
    assert "rejected a newly issued token for GET /rest/v1/users" in result.output
    assert sum(1 for r in sim.state.requests if r.path == "/v1/token") == 2
    for token in sim.state.tokens:
        assert token not in result.output


def test_a_malformed_state_file(sim: Simulator, run: Run, write: WriteFile, tmp_path: Path) -> None:
    path = write(clinic_data(sim))
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "lakeside-medical.yaml").write_text(
        "version: 1\nclinic: lakeside-medical\nconfirmations:\n"
        "  - change: x\n    done: {scheduling: granted}\n    by: Dana\n    at: yesterday\n",
        "utf-8",
    )
    for command in ("plan", "validate"):
        result = run(command, str(path))
        assert result.exit_code == ExitCode.INVALID, result.output
        assert "lakeside-medical.yaml:7:" in result.output
        assert "confirmations[0].at: must be a date and time with its zone" in result.output
        assert "Traceback" not in result.output


def test_a_state_file_of_another_clinic(
    sim: Simulator, run: Run, write: WriteFile, tmp_path: Path
) -> None:
    path = write(clinic_data(sim))
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "lakeside-medical.yaml").write_text(
        "version: 1\nclinic: riverside-fht\nconfirmations: []\n", "utf-8"
    )
    result = run("plan", str(path))
    assert result.exit_code == ExitCode.INVALID
    assert "clinic: is 'riverside-fht', but this file holds the state of clinic" in result.output


def test_confirm_needs_a_choice_and_a_name_without_a_terminal(
    sim: Simulator, run: Run, write: WriteFile
) -> None:
    path = write(clinic_data(sim))
    result = run("confirm", "lakeside-medical", str(path))
    assert result.exit_code == ExitCode.INVALID
    assert "--change ADDRESS" in result.output
    result = run("confirm", "lakeside-medical", str(path), "--all")
    assert result.exit_code == ExitCode.INVALID and "--by NAME is required" in result.output
    result = run("confirm", "lakeside-medical", str(path), "--change", "nope", "--by", "X")
    assert result.exit_code == ExitCode.INVALID and "not a manual change planned" in result.output
    result = run(
        "confirm",
        "lakeside-medical",
        str(path),
        "--all",
        "--by",
        "X",
        "--at",
        "2999-01-01T00:00:00Z",
    )
    assert result.exit_code == ExitCode.INVALID and "in the future" in result.output


def test_no_secret_reaches_output_plan_files_checklists_or_state(
    sim: Simulator, run: Run, write: WriteFile, tmp_path: Path
) -> None:
    path = write(clinic_data(sim))
    saved = tmp_path / "plan.json"
    outputs = [
        run("--debug", "plan", str(path), "--out", str(saved)),
        run("plan", str(path), "--format", "json"),
        run("plan", str(path), "--format", "markdown"),
        run("--debug", "apply", str(path), "--plan", str(saved)),
        run("confirm", "lakeside-medical", str(path), "--all", "--by", "Dana"),
        run("--debug", "report", str(path), "--out", str(tmp_path / "report")),
        run("report", "--plan", str(saved), "--out", str(tmp_path / "report-saved")),
    ]
    texts = [r.output for r in outputs]
    texts += [p.read_text("utf-8") for p in tmp_path.rglob("*") if p.is_file()
              and p.suffix in (".json", ".md", ".yaml", ".jsonl", ".html")]  # fmt: skip
    assert (tmp_path / "report" / "clinics" / "lakeside-medical.html").is_file()
    assert (tmp_path / "report-saved" / "clinics" / "lakeside-medical.html").is_file()
    tokens = list(sim.state.tokens)
    assert tokens
    for secret in (CLIENT_SECRET, SUBSCRIPTION_KEY, OCEAN_PASSWORD, *tokens):
        for text in texts:
            assert secret not in text
    assert json.loads(saved.read_text("utf-8"))["clinics"][0]["notes"]


def test_confirm_asks_change_by_change_on_a_terminal(
    sim: Simulator, run: Run, write: WriteFile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(clinic_data(sim))
    monkeypatch.setattr("reconciler.cli._is_interactive", lambda: True)
    monkeypatch.setattr("reconciler.cli.git_user_name", lambda: "Dana Lee")
    # Seven rows are planned: yes to the first, no to the others, then the name's default.
    answers = "y\n" + "n\n" * 6 + "\n"
    result = CliRunner().invoke(
        cli, ["confirm", "lakeside-medical", str(path)], input=answers, catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert "Recorded 1 confirmation(s) by Dana Lee" in result.output
    state = yaml.safe_load((tmp_path / "state" / "lakeside-medical.yaml").read_text("utf-8"))
    assert [r["change"] for r in state["confirmations"]] == [ROW.format(office=MAIN, provider=1001)]


def test_validate_warns_about_a_state_file_no_clinic_owns(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "gone-clinic.yaml").write_text(
        "version: 1\nclinic: gone-clinic\nconfirmations: []\n", "utf-8"
    )
    result = run("validate")
    assert result.exit_code == 0, result.output
    assert "gone-clinic.yaml:1:1: (document): warning: no clinic file given has this id" in (
        result.output
    )
