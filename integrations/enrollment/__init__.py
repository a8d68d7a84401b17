"""Pre-review (预审) backends: the `EnrollmentBackend` interface, the embedded roster review (default)
and a remote platform over HTTP (result by callback or polling).

Settings (environment): ENROLLMENT_BACKEND embedded (default) | http; for http: ENROLLMENT_BASE (the
platform's address), ENROLLMENT_SECRET (shared HMAC key), ENROLLMENT_TIMEOUT (seconds, default 5).
"""
from integrations.enrollment.base import APPROVED, PENDING, REJECTED, EnrollmentBackend, ReviewResult
from integrations.enrollment.http_backend import BackendError, HttpEnrollmentBackend, InvalidCallback
from integrations.enrollment.roster_review import RosterReview

__all__ = ["APPROVED", "PENDING", "REJECTED", "BackendError", "EnrollmentBackend", "HttpEnrollmentBackend",
           "InvalidCallback", "ReviewResult", "RosterReview"]

CALLBACK_PATH = "/enrollment/callback"
