"""The layout follows the data flow: imports run one way (docs/architecture.md).

cli -> orchestration -> the stages -> runtime. A stage imports only earlier stages;
no stage imports orchestration or cli. Every import of every module counts, those
inside functions too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# What each top-level package may import from the project (itself included).
ALLOWED = {
    "runtime": {"runtime"},
    "ingestion": {"runtime", "ingestion"},
    "workflow": {"runtime", "workflow"},
    "expectations": {"runtime", "expectations"},
    "publishing": {"runtime", "ingestion", "expectations", "publishing"},
    "reporting": {"runtime", "ingestion", "expectations", "publishing", "reporting"},
    "demo": {"runtime", "ingestion", "demo"},
    "orchestration": {
        "runtime",
        "ingestion",
        "expectations",
        "publishing",
        "reporting",
        "demo",
        "workflow",
        "orchestration",
    },
    "cli": {
        "runtime",
        "ingestion",
        "expectations",
        "publishing",
        "reporting",
        "demo",
        "workflow",
        "orchestration",
        "cli",
    },
}
# Modules of orchestration/ that need no Dagster import, and why they belong there.
ORCHESTRATION_WITHOUT_DAGSTER = {
    "orchestration/__init__.py": "package marker",
    "orchestration/defs/__init__.py": "package marker",
    "orchestration/dbt_manifest.py": "the dbt integration: keeps the manifest Dagster loads",
    "orchestration/dbt_worker.py": "the dbt integration: the process the dbt step's dbt runs in",
    "orchestration/dbt_worker_client.py": "the dbt integration: the `dbt` that hands over to it",
    "orchestration/instance.py": "the Dagster instance: DAGSTER_HOME and dagster.yaml",
}


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_every_package_is_in_the_layout():
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert packages - {"tests"} == set(ALLOWED)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_run_one_way(package):
    wrong = []
    for path in _modules(package):
        for imported in _imported_packages(path) & set(ALLOWED):
            if imported not in ALLOWED[package]:
                wrong.append(f"{path.relative_to(ROOT)} imports {imported}")
    assert not wrong, "imports against the flow:\n" + "\n".join(wrong)


def test_orchestration_holds_dagster_code_only():
    without = []
    for path in _modules("orchestration"):
        relative = path.relative_to(ROOT).as_posix()
        if relative in ORCHESTRATION_WITHOUT_DAGSTER:
            continue
        if not _imported_packages(path) & {"dagster", "dagster_dbt"}:
            without.append(relative)
    assert not without, f"modules of orchestration/ that do not use Dagster: {without}"


def test_ingestion_holds_returns_only():
    names = {p.stem for p in _modules("ingestion")}
    assert "home" not in names and "sample" not in names
    assert {"registry", "structure", "check", "template"} <= names
