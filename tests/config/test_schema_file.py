"""The schema is a published contract: valid 2020-12, strict, and documented everywhere."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from reconciler.config.schema import clinic_schema

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schemas" / "clinic.schema.json"


def objects(node: Any, path: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if node.get("type") == "object" or "properties" in node:
            yield path, node
        for key, value in node.items():
            yield from objects(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from objects(value, f"{path}/{i}")


def test_schema_is_valid_2020_12() -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"].endswith("2020-12/schema")


def test_package_uses_the_published_schema() -> None:
    assert clinic_schema() == json.loads(SCHEMA_FILE.read_text())


def test_every_property_has_a_description_and_objects_reject_unknown_keys() -> None:
    schema = clinic_schema()
    for path, obj in objects(schema):
        if "if" in path or "then" in path:
            continue
        for name, prop in obj.get("properties", {}).items():
            assert "description" in prop, f"{path}/properties/{name} has no description"
        assert obj.get("additionalProperties") is False, f"{path} accepts unknown keys"
