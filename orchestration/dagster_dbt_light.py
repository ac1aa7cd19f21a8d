"""dagster-dbt without dbt-core in the Dagster processes: the code location loads ~3 s faster.

`import dagster_dbt` imports dbt-core (dagster_dbt/compat.py: `dbt.version`,
`dbt.adapters.base.impl`, `dbt.contracts.results`, `dbt.node_types`), about 3 s on this
machine, most of it mashumaro compiling dbt's artifact classes, only to learn dbt's version
and three enums. When dbt-core cannot be imported, dagster-dbt takes its own path (the one it
takes for the dbt Fusion engine): its copies of the enums (same string values) and, as always,
the `dbt` executable in a subprocess. The executable still reports 1.x (`dbt --version`), so
dagster-dbt still reads its output as dbt-core events: materializations and test results are
the same as with dbt-core imported.

What that path changes, and why it does not matter here (guarded by tests/integration/
test_load_time.py and by the annual cycle in tests/e2e/test_annual_cycle.py):
- `@dbt_assets(select=..., exclude=...)` cannot be evaluated without dbt-core (dagster_dbt
  raises): we take the default selection, every node of the manifest. dbt unit tests are not
  nodes (manifest["unit_tests"]), so the assets and checks are the same as with
  `exclude="test_type:unit"`; the unit tests are excluded on the `dbt build` command line.
- `DbtCliResource.cli` would open a dbt-core adapter in the Dagster process (importing
  dbt-core, ~3 s per dbt step) and, without dbt-core imported, log a warning with a traceback.
  The adapter only serves `fetch_row_counts()` / `fetch_column_metadata()`, which we do not
  call: `MhbenchDbtCliResource` does without it. Calling either would need the adapter back.
- dbt-core is not listed among the code location's library versions.

dbt-core stays installed: it is the `dbt` executable, and `dbt parse`/`dbt docs` run as
subprocesses. Only the Dagster processes (code server, runs, `mhbench run`) do without it.
If something imported dbt earlier in the process, dagster_dbt is imported as usual.

In the code location, import dagster-dbt from here, never `dagster_dbt` first (the test
fails if dbt-core gets loaded). After a dagster-dbt upgrade, the tests above say whether its
no-dbt-core path still behaves as here.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from functools import cached_property

from packaging import version

if "dbt" not in sys.modules:
    # A None entry in sys.modules makes `import dbt...` raise ImportError; dagster_dbt.compat
    # catches it and falls back. Only while dagster_dbt is imported: dbt stays importable.
    sys.modules["dbt"] = None  # type: ignore[assignment]
    try:
        import dagster_dbt  # noqa: F401
    finally:
        if sys.modules.get("dbt", False) is None:
            del sys.modules["dbt"]

from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

__all__ = [
    "DagsterDbtTranslator",
    "DbtCliResource",
    "DbtProject",
    "MhbenchDbtCliResource",
    "dbt_assets",
]


class MhbenchDbtCliResource(DbtCliResource):
    """Runs the dbt CLI for the dbt assets: dagster-dbt's `DbtCliResource` without a dbt-core
    adapter in the Dagster process (orchestration/dagster_dbt_light.py).

    dbt runs as a subprocess either way; the adapter would only serve to fetch row counts or
    column metadata after a run, which the dbt assets do not ask for.
    """

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:  # type: ignore[override]
        return None

    @cached_property
    def _cli_version(self) -> version.Version:
        """dbt-core's version, from this environment's package metadata.

        dagster-dbt asks the executable (`dbt --version`) once per run: 1.7 s here, and dbt
        then asks PyPI for its latest version over the network. The executable is this
        environment's (`dbt_manifest.dbt_executable`), so its package says the same."""
        from importlib.metadata import version as installed_version

        return version.parse(installed_version("dbt-core"))
