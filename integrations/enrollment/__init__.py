"""Pre-review (预审) backends: the `EnrollmentBackend` interface and the embedded roster review."""
from integrations.enrollment.base import APPROVED, PENDING, REJECTED, EnrollmentBackend, ReviewResult
from integrations.enrollment.roster_review import RosterReview

__all__ = ["APPROVED", "PENDING", "REJECTED", "EnrollmentBackend", "ReviewResult", "RosterReview"]
