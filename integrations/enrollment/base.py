"""Pre-review (预审) of a submitted application behind one interface.

A backend accepts an application and answers approved / rejected (with a reason the guardian can
act on) / pending (the answer comes later: by callback, or by polling `result`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

APPROVED, REJECTED, PENDING = "approved", "rejected", "pending"


@dataclass(frozen=True)
class ReviewResult:
    status: str  # approved | rejected | pending
    reason: str = ""  # Chinese, shown to the guardian when rejected
    reference: str = ""  # the backend's case number, for polling


@runtime_checkable
class EnrollmentBackend(Protocol):
    async def submit(self, application: dict[str, Any]) -> ReviewResult:
        """Hand the application over for pre-review."""
        ...

    async def result(self, application: dict[str, Any]) -> ReviewResult:
        """Poll the pre-review result of an application submitted earlier."""
        ...
