"""Conversations as `transitions` state machines: enrolment forms for every scheme the rule engine knows."""
from dialogs.enrollment import DialogReply, EnrollmentDialogs
from dialogs.ports import LocalSubmitter, Submitter

__all__ = ["DialogReply", "EnrollmentDialogs", "LocalSubmitter", "Submitter"]
