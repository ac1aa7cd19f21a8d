"""Validations kept in the home (`cache/gx-validations/`), so that the gate validates again
only the marts whose rows changed: a resubmission leaves the dimensions, the queries and the
exchange suggestions as they were, a third of the gate's expectations.

A validation is a pure function of the rows validated, the suite, and the code that
validates (Great Expectations, pandas, the runner). The key is a sha256 over all of them: the
columns, their types and every value (not pandas' 64-bit row hashes: a kept validation
stands in for the gate), so a kept validation is the one GE would return. It is kept as GE's
own JSON of the result (what a validation results store holds) and read back with GE's own
schema; a file GE cannot read is validated again (runtime/kept_results.py).
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

from runtime.kept_results import KeptResults


@cache
def _validating_code() -> bytes:
    """What a validation depends on besides the rows and the suite."""
    import great_expectations as gx
    import pandas as pd

    from expectations import runner

    source = Path(runner.__file__).read_bytes()
    return hashlib.sha256(source).digest() + f"gx {gx.__version__} pandas {pd.__version__}".encode()


def _column_bytes(column) -> bytes:
    import numpy as np

    if isinstance(column.dtype, np.dtype) and column.dtype.kind in "biufcmM":
        return np.ascontiguousarray(column.to_numpy()).tobytes()
    # text, lists, extension types: each value's repr, unambiguous between values (an array's
    # as a list: numpy's repr elides the middle of a long one)
    return "\x1f".join(
        repr(value.tolist()) if isinstance(value, np.ndarray) else repr(value)
        for value in column.tolist()
    ).encode("utf-8", "surrogatepass")


def validation_key(df, spec: dict[str, Any]) -> str:
    """The key of validating `df` against the suite `spec`."""
    digest = hashlib.sha256(_validating_code())
    digest.update(json.dumps(spec, sort_keys=True).encode())
    digest.update(str(len(df)).encode())
    for name in df.columns:
        column = df[name]
        digest.update(b"\0" + json.dumps([str(name), str(column.dtype)]).encode() + b"\0")
        digest.update(hashlib.sha256(_column_bytes(column)).digest())
    return digest.hexdigest()


def _validation_result(value: object):
    """GE's ExpectationSuiteValidationResult from its JSON, or ValueError for a file GE
    cannot read (kept by another GE, or damaged): it is validated again."""
    from great_expectations.core.expectation_validation_result import (
        expectationSuiteValidationResultSchema,
    )

    if not isinstance(value, dict) or not isinstance(value.get("results"), list):
        raise ValueError("not a kept validation")
    try:
        return expectationSuiteValidationResultSchema.load(value)
    except Exception as exc:  # noqa: BLE001 - marshmallow's and GE's own errors alike
        raise ValueError(f"not a kept validation: {exc}") from exc


class KeptValidations(KeptResults):
    """GE validation results by key, in `folder`."""

    def get(self, key: str):
        """The validation result kept under `key` (GE's ExpectationSuiteValidationResult), or
        None."""
        return super().get(key, _validation_result)

    def put(self, key: str, result) -> None:
        super().put(key, result.to_json_dict())
