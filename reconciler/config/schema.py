"""JSON Schema validation, with each error turned into a located, readable diagnostic."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker, ValidationError

from reconciler.config.yamlsource import YamlDocument
from reconciler.diagnostics import Diagnostic

SECRET_TITLE = "Secret reference"
_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A published schema, ``schemas/<name>.schema.json`` (``clinic``, ``state``)."""
    text = resources.files("reconciler").joinpath(f"{name}.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def clinic_schema() -> dict[str, Any]:
    """The clinic file schema (``schemas/clinic.schema.json``)."""
    return load_schema("clinic")


def _inline_refs(node: Any, defs: dict[str, Any]) -> Any:
    """Replace local ``$ref``s by their target (the schema has no recursion): validating a
    large file then skips a reference lookup per value, about a third of the time."""
    if isinstance(node, list):
        return [_inline_refs(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _inline_refs(v, defs) for k, v in node.items() if k != "$defs"}
    ref = out.pop("$ref", None)
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = _inline_refs(defs[ref.removeprefix("#/$defs/")], defs)
        out = {**target, **out}
    return out


@cache
def _validator(name: str) -> Draft202012Validator:
    schema = load_schema(name)
    inlined = _inline_refs(schema, schema.get("$defs", {}))
    return Draft202012Validator(inlined, format_checker=FormatChecker())


def schema_diagnostics(doc: YamlDocument, schema: str = "clinic") -> list[Diagnostic]:
    """Every way ``doc`` breaks the named schema, located and in plain words."""
    seen: set[tuple[str, str]] = set()
    out: list[Diagnostic] = []
    for error in _validator(schema).iter_errors(doc.data):
        for diag in _translate(error, doc):
            if (diag.field, diag.message) not in seen:
                seen.add((diag.field, diag.message))
                out.append(diag)
    return out


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def did_you_mean(word: str, choices: list[str]) -> str:
    match = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean '{match[0]}'?" if match else ""


def _translate(error: ValidationError, doc: YamlDocument) -> Iterator[Diagnostic]:
    path = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    validator = error.validator
    instance = error.instance
    expected: Any = error.validator_value
    is_secret = schema.get("title") == SECRET_TITLE

    if validator is None or error.schema is False:  # `false` subschema: semantic checks say why
        return
    if validator == "required":
        missing = next(
            (str(name) for name in expected if isinstance(instance, dict) and name not in instance),
            str(expected[-1]),
        )
        yield doc.diagnostic((*path, missing), f"missing required field '{missing}'")
        return
    if validator == "additionalProperties" and isinstance(instance, dict):
        known = sorted(schema.get("properties", {}))
        for key in sorted(set(instance) - set(known)):
            hint = did_you_mean(str(key), known) or (
                f"; expected one of: {', '.join(known)}" if known else ""
            )
            yield doc.diagnostic((*path, key), f"unknown field '{key}'{hint}", at_key=True)
        return
    if is_secret:
        if validator == "type":
            yield doc.diagnostic(
                path,
                "a literal secret is not allowed here; write a reference instead: "
                "{env: VARIABLE_NAME} or {file: path/to/file}",
            )
        else:
            yield doc.diagnostic(
                path, "a secret reference has exactly one of: {env: NAME} or {file: path}"
            )
        return
    if "errorMessage" in schema and validator not in {"type", "enum"}:
        yield doc.diagnostic(path, str(schema["errorMessage"]))
        return
    if validator == "type":
        names = [expected] if isinstance(expected, str) else list(expected)
        wanted = " or ".join(_TYPE_NAMES.get(n, n) for n in names)
        actual = _json_type(instance)
        hint = ""
        written = doc.written.get(path)
        tag = doc.tagged.get(path)
        if tag is not None:
            hint = f" (remove the tag {tag}: it makes the value {_TYPE_NAMES[actual]})"
        elif "string" in names and written is not None and actual != "null":
            hint = f" (quote it: {json.dumps(written, ensure_ascii=False)})"
        yield doc.diagnostic(path, f"must be {wanted}, not {_TYPE_NAMES[actual]}{hint}")
        return
    if validator == "enum":
        choices = [str(c) for c in expected]
        kind = str(schema.get("title", "value")).lower()
        hint = did_you_mean(str(instance), choices) if isinstance(instance, str) else ""
        written = doc.written.get(path, str(instance))
        shown = f"'{written}'" if isinstance(instance, str | int | float | bool) else "this"
        yield doc.diagnostic(
            path, f"unknown {kind} {shown}{hint} (expected one of: {', '.join(choices)})"
        )
        return
    if validator == "const":
        yield doc.diagnostic(path, f"must be {json.dumps(expected)}")
        return
    if validator == "format":
        yield doc.diagnostic(path, f"must be a valid {expected} (YYYY-MM-DD)")
        return
    if validator == "uniqueItems":
        yield doc.diagnostic(path, "lists the same item more than once")
        return
    if validator == "minItems":
        n = expected
        yield doc.diagnostic(path, f"must list at least {n} item{'s' if n != 1 else ''}")
        return
    if validator in {"minLength", "maxLength"}:
        if validator == "minLength" and expected == 1:
            yield doc.diagnostic(path, "must not be empty")
        else:
            bound = "at least" if validator == "minLength" else "at most"
            yield doc.diagnostic(path, f"must be {bound} {expected} characters")
        return
    if validator in {"minimum", "maximum"}:
        bound = "at least" if validator == "minimum" else "at most"
        yield doc.diagnostic(path, f"must be {bound} {expected}")
        return
    yield doc.diagnostic(path, error.message)
