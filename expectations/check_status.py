"""The status of a gate check as a release records it (manifest `checks[].status`)."""

from __future__ import annotations

from enum import StrEnum


class CheckStatus(StrEnum):
    """Dagster's check execution statuses, plus the two ways a check can be missing."""

    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    PLANNED = "PLANNED"  # started, no result yet
    NOT_RUN = "NOT_RUN"  # never evaluated
    NOT_RUN_IN_THIS_RUN = "NOT_RUN_IN_THIS_RUN"  # evaluated, but by another run

    @property
    def evaluated(self) -> bool:
        """Whether the check ran in the run being judged (it has a result of its own)."""
        return self not in (CheckStatus.NOT_RUN, CheckStatus.NOT_RUN_IN_THIS_RUN)

    @property
    def decided(self) -> bool:
        """Whether the check reached a verdict (passed or failed)."""
        return self in (CheckStatus.SUCCEEDED, CheckStatus.FAILED)
