"""The code location loads fast: what it must not import, and the dagster-dbt path it relies on.

Wall times are too noisy on a shared machine to assert here (`make bench` reports them
against the 5 s target); what makes the load fast is asserted instead, each in a fresh
interpreter: loading `orchestration.definitions` imports neither dbt-core nor Great
Expectations, pandas or matplotlib, and dagster-dbt's own (no dbt-core) path behaves as
dbt-core would for everything our dbt assets use. The annual cycle test
(tests/e2e/test_annual_cycle.py) checks the dbt step of a real run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Heavy packages that only asset, check and CLI bodies may import (at run time).
NOT_AT_LOAD = ("dbt", "dbt_common", "great_expectations", "pandas", "matplotlib", "duckdb")


def _python(code: str, home: Path) -> dict:
    env = dict(os.environ, MHBENCH_HOME=str(home), DAGSTER_HOME=str(home / "dagster"))
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-6000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_code_location_loads_without_heavy_imports(tmp_path):
    result = _python(
        """
        import json, sys
        from orchestration.definitions import defs
        from orchestration.defs.dbt import mhbench_dbt_assets
        from dagster_dbt import compat

        graph = defs.resolve_asset_graph()
        print(json.dumps({
            "imported": sorted({name.split(".")[0] for name in sys.modules}),
            "dbt_python_version": str(compat.DBT_PYTHON_VERSION),
            "assets": len(graph.get_all_asset_keys()),
            "dbt_assets": len(mhbench_dbt_assets.keys),
            "dbt_checks": len(mhbench_dbt_assets.check_keys),
        }))
        """,
        tmp_path,
    )
    assert not set(NOT_AT_LOAD) & set(result["imported"])
    assert result["dbt_python_version"] == "None", "dagster_dbt took its dbt-core path"
    assert result["dbt_assets"] >= 20 and result["dbt_checks"] >= 20
    assert result["assets"] > result["dbt_assets"]


def test_dagster_dbt_without_dbt_core_matches_dbt_core(tmp_path):
    """Without dbt-core, dagster-dbt compares dbt's event fields with its own enums: they must
    hold dbt-core's values. dbt stays importable afterwards, and a dbt command run through the
    resource neither imports dbt-core nor opens an adapter."""
    result = _python(
        f"""
        import json, sys
        from pathlib import Path
        from orchestration.dagster_dbt_light import DbtCliResource, MhbenchDbtCliResource
        from orchestration.dbt_manifest import DBT_PROJECT_DIR, dbt_executable
        from dagster_dbt import compat

        dbt = MhbenchDbtCliResource(
            project_dir=str(DBT_PROJECT_DIR),
            profiles_dir=str(DBT_PROJECT_DIR),
            dbt_executable=dbt_executable(),
        )
        invocation = dbt.cli(["--version"], target_path=Path({str(tmp_path / "target")!r})).wait()
        after_run = {{
            "adapter": repr(invocation.adapter),
            "dbt_imported": "dbt" in sys.modules,
            "is_fusion": invocation.is_fusion,
        }}

        def values(enum):
            return {{m.name: str(m.value) for m in enum}}

        fallback = {{
            "NodeType": values(compat.NodeType),
            "NodeStatus": values(compat.NodeStatus),
            "TestStatus": values(compat.TestStatus),
            "refable": sorted(str(t) for t in compat.REFABLE_NODE_TYPES),
        }}
        from dbt.contracts.results import NodeStatus, TestStatus
        from dbt.node_types import REFABLE_NODE_TYPES, NodeType

        core = {{
            "NodeType": values(NodeType),
            "NodeStatus": values(NodeStatus),
            "TestStatus": values(TestStatus),
            "refable": sorted(str(t.value) for t in REFABLE_NODE_TYPES),
        }}
        print(json.dumps({{
            "fallback": fallback,
            "core": core,
            "after_run": after_run,
            "private_hook": "_initialize_dbt_core_adapter" in vars(DbtCliResource),
        }}))
        """,
        tmp_path,
    )
    fallback, core = result["fallback"], result["core"]
    # the members dagster_dbt/core/dbt_cli_event.py compares event fields with
    for enum, member in [
        ("NodeType", "Test"),
        ("NodeType", "Snapshot"),
        ("NodeStatus", "Success"),
        ("NodeStatus", "Skipped"),
        ("NodeStatus", "Warn"),
        ("TestStatus", "Pass"),
    ]:
        assert fallback[enum][member] == core[enum][member], (enum, member)
    assert fallback["refable"] == core["refable"]
    assert fallback["TestStatus"] == core["TestStatus"]
    assert set(core["NodeStatus"].values()) <= set(fallback["NodeStatus"].values())
    # MhbenchDbtCliResource overrides this private method of DbtCliResource: if dagster-dbt
    # renamed it, runs would import dbt-core and log a warning about the adapter.
    assert result["private_hook"]
    assert result["after_run"] == {"adapter": "None", "dbt_imported": False, "is_fusion": False}
