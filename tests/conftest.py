"""Shared fixtures: clinic documents to start from, and a way to write them to disk."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]

ACCURO_DOC: dict[str, Any] = {
    "version": 1,
    "clinic": {"id": "lakeside-medical", "name": "Lakeside Medical Centre"},
    "emr": {
        "kind": "accuro",
        "api": {
            "base_url": "https://accuro.example.org",
            "tenant": "LAKESIDE",
            "uuid": "3f1c8f2e-5a8b-4c1e-9d7a-2b6f0e4c9a11",
            "client_id": {"env": "T_CLIENT_ID"},
            "client_secret": {"env": "T_CLIENT_SECRET"},
            "subscription_key": {"env": "T_SUB_KEY"},
        },
    },
    "ocean_api_user": {
        "username": "OceanAPI12345",
        "offices": [
            {"name": "Main Street Office", "providers": [{"name": "Smith, Jane"}, {"id": 1042}]}
        ],
    },
}

OSCAR_DOC: dict[str, Any] = {
    "version": 1,
    "clinic": {"id": "riverside-fht", "name": "Riverside Family Health Team"},
    "emr": {
        "kind": "oscar",
        "edition": "open-source",
        "backend": "sql",
        "database": {"url": {"env": "T_OSCAR_DB_URL"}},
    },
    "ocean_connect": {
        "provider": {"number": "999990", "last_name": "Connect", "first_name": "Ocean"},
        "roles": ["doctor"],
        "primary_role": "doctor",
        "login": {
            "username": "OceanConnect",
            "password": {"env": "T_OC_PASSWORD"},
            "pin": {"env": "T_OC_PIN"},
        },
    },
}


def doc(kind: str = "oscar", **changes: Any) -> dict[str, Any]:
    """A fresh copy of a valid document; ``changes`` set dotted paths (``a__b=1``)."""
    data = copy.deepcopy(OSCAR_DOC if kind == "oscar" else ACCURO_DOC)
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        target = data
        for key in parents:
            target = target[key]
        target[last] = value
    return data


WriteClinic = Callable[..., Path]


@pytest.fixture
def write_clinic(tmp_path: Path) -> WriteClinic:
    """Write a clinic file (a dict is dumped as YAML, a str/bytes written as is)."""

    def write(content: dict[str, Any] | str | bytes, name: str = "clinic.yaml") -> Path:
        path = tmp_path / "clinics" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, dict):
            path.write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
        elif isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
        return path

    return write
