"""The audit trail and configuration versions: who changed what, when, from where (see ``audit.recording``)."""
