"""The house rules, checked: the core names no EMR, EMR packages never reach into the engine,
and every registered EMR keeps the contract. A third EMR is a folder plus a registry line."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.emr.contract import EmrPackage
from reconciler.emr.registry import PACKAGES, all_emrs, emr, kinds
from tests.conftest import ROOT

PACKAGE = ROOT / "reconciler"
EMR_DIR = PACKAGE / "emr"
CORE = sorted(p for p in PACKAGE.rglob("*.py") if EMR_DIR not in p.parents)
EMR_SHARED = {"reconciler.emr", "reconciler.emr.contract", "reconciler.emr.registry"}
EMR_FORBIDDEN = ("reconciler.engine", "reconciler.cli", "reconciler.planfile", "reconciler.audit")


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


@pytest.mark.parametrize("path", CORE, ids=module_name)
def test_the_core_imports_no_emr_package(path: Path) -> None:
    emr_imports = {m for m in imports(path) if m.startswith("reconciler.emr")}
    assert emr_imports <= EMR_SHARED, f"{module_name(path)} imports {emr_imports - EMR_SHARED}"


@pytest.mark.parametrize("path", CORE, ids=module_name)
def test_the_core_names_no_emr(path: Path) -> None:
    text = path.read_text(encoding="utf-8").lower()
    named = [p.kind for p in all_emrs() if p.kind in text or p.title.lower() in text]
    assert not named, f"{module_name(path)} names {named}"


def test_the_core_never_imports_the_cli() -> None:
    for path in PACKAGE.rglob("*.py"):
        if path.name not in ("cli.py", "__main__.py"):
            assert "reconciler.cli" not in imports(path), module_name(path)


@pytest.mark.parametrize("path", sorted(EMR_DIR.rglob("*.py")), ids=module_name)
def test_emr_packages_never_import_the_engine(path: Path) -> None:
    bad = {m for m in imports(path) if m.startswith(EMR_FORBIDDEN)}
    assert not bad, f"{module_name(path)} imports {bad}"


def test_emr_packages_do_not_import_each_other() -> None:
    for kind in PACKAGES:
        for path in (EMR_DIR / kind).rglob("*.py"):
            others = {f"reconciler.emr.{k}" for k in PACKAGES if k != kind}
            bad = {m for m in imports(path) if m.startswith(tuple(others))}
            assert not bad, f"{module_name(path)} imports {bad}"


def test_importing_the_whole_core_loads_no_emr_package() -> None:
    """Stronger than reading imports: nothing the core imports, however deep, pulls one in."""
    core = [module_name(p) for p in CORE if p.name != "__main__.py"]
    code = (
        "import importlib, sys\n"
        f"for m in {core!r}: importlib.import_module(m)\n"
        "print(sorted(m for m in sys.modules if m.startswith('reconciler.emr.')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    loaded = set(json.loads(out.stdout.replace("'", '"')))
    assert loaded <= EMR_SHARED


@pytest.mark.parametrize("kind", kinds())
def test_each_registered_emr_keeps_the_contract(kind: str) -> None:
    package = emr(kind)
    assert isinstance(package, EmrPackage)
    assert package.kind == kind and package.title
    assert (EMR_DIR / kind / "__init__.py").is_file()


def test_the_schema_accepts_exactly_the_registered_kinds() -> None:
    schema = json.loads((ROOT / "schemas" / "clinic.schema.json").read_text(encoding="utf-8"))
    text = json.dumps(schema)
    assert all(f'"{k}"' in text for k in kinds())
    enums = [
        node["enum"]
        for node in _walk(schema)
        if isinstance(node, dict) and "enum" in node and set(node["enum"]) & set(kinds())
    ]
    assert sorted(kinds()) in [sorted(e) for e in enums]


def _walk(node: object) -> list[object]:
    out = [node]
    if isinstance(node, dict):
        for v in node.values():
            out += _walk(v)
    elif isinstance(node, list):
        for v in node:
            out += _walk(v)
    return out


def test_bench_lives_outside_the_package() -> None:
    assert (ROOT / "bench" / "run.py").is_file()
    assert not (PACKAGE / "bench.py").exists()
