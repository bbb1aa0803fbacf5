"""Labels for the codes the audit trail stores (actions, outcomes, roles, object types): the
console shows these, never the raw codes. ``tests/audit/test_console_labels.py`` fails when an
action has no label."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..core.audit import AuditAction as A
from ..labels import ROLE_LABELS

ACTION_LABELS: dict[str, object] = {
    A.LOGIN: _l("Signed in"),
    A.LOGIN_FAILED: _l("Failed sign-in"),
    A.LOGOUT: _l("Signed out"),
    A.SESSION_REVOKED: _l("Session ended by the system"),
    A.PASSWORD_CHANGE: _l("Changed password"),
    A.MFA_ENROL: _l("Set up two-step sign-in"),
    A.MFA_RESET: _l("Reset two-step sign-in"),
    A.MFA_RECOVERY_CODES: _l("Made new recovery codes"),
    A.MFA_RECOVERY_USED: _l("Used a recovery code"),
    A.PASSWORD_RESET: _l("Administrator reset a password"),
    A.REAUTH_FAILED: _l("Failed password re-entry"),
    A.TOKEN_CREATE: _l("Created an API token"),
    A.TOKEN_REVOKE: _l("Revoked an API token"),
    A.LOCALE_CHANGE: _l("Changed language"),
    A.ACCESS_DENIED: _l("Access refused"),
    A.BREAK_GLASS_START: _l("Started break-glass access"),
    A.BREAK_GLASS_END: _l("Break-glass access ended"),
    A.BREAK_GLASS_REVIEW: _l("Reviewed break-glass access"),
    A.SCHOOL_CREATE: _l("Created a school"),
    A.SCHOOL_UPDATE: _l("Changed a school"),
    A.CLASS_CREATE: _l("Created a class"),
    A.USER_CREATE: _l("Created a user"),
    A.USER_UPDATE: _l("Changed a user"),
    A.USER_DISABLE: _l("Disabled a user"),
    A.MEMBERSHIP_GRANT: _l("Gave a role"),
    A.MEMBERSHIP_REVOKE: _l("Removed a role"),
    A.POLICY_CHANGE: _l("Changed the tier policy"),
    A.PARTNER_CHANGE: _l("Changed a health partner"),
    A.REFERRAL_CREATE: _l("Started a referral"),
    A.REFERRAL_UPDATE: _l("Changed a referral draft"),
    A.REFERRAL_MOVE: _l("Moved a referral on"),
    A.REFERRAL_VIEW: _l("Viewed a referral"),
    A.REFERRAL_OVERRIDE: _l("Referred without consent (emergency override)"),
    A.REFERRAL_ACCESS_CUT: _l("Ended a partner's access to a referral"),
    A.REFERRAL_PRINT: _l("Printed a referral letter"),
    A.REFERRAL_EXPORT: _l("Downloaded a referral (FHIR)"),
    A.ROSTER_IMPORT: _l("Imported the roster"),
    A.STUDENT_LIST: _l("Listed students"),
    A.STUDENT_SEARCH: _l("Searched for students"),
    A.STUDENT_VIEW: _l("Opened a student record"),
    A.STUDENT_UPDATE: _l("Changed a student record"),
    A.STUDENT_TRANSFER: _l("Transferred a student"),
    A.RECORD_EXPORT: _l("Downloaded a record"),
    A.GUARDIAN_COPY: _l("Made a copy of a record for a guardian"),
    A.SCREENING_CAMPAIGN: _l("Changed a screening campaign"),
    A.SCREENING_IMPORT: _l("Imported screening results"),
    A.SCREENING_RESPONSE: _l("Recorded a screening response"),
    A.SCREENING_VIEW: _l("Read screening results"),
    A.SCREENING_LIST: _l("Listed screening results"),
    A.TIER_CHANGE: _l("Changed a tier"),
    A.TIER_CONFIRM: _l("Confirmed a tier"),
    A.TIER_VIEW: _l("Read the tier history"),
    A.ALERT_CREATE: _l("Raised an alert"),
    A.ALERT_VIEW: _l("Opened an alert"),
    A.ALERT_ACK: _l("Acknowledged an alert"),
    A.ALERT_RESOLVE: _l("Resolved an alert"),
    A.ALERT_ESCALATE: _l("Escalated an alert"),
    A.ALERT_LIST: _l("Listed alerts"),
    A.CONCERN_CREATE: _l("Reported a concern"),
    A.CONCERN_VIEW: _l("Read a concern"),
    A.CONCERN_UPDATE: _l("Acted on a concern"),
    A.HOTLINE_VIEW: _l("Read a hotline call"),
    A.GUARDIAN_CONTACT_VIEW: _l("Read guardian contacts"),
    A.HOTLINE_CALL: _l("Logged a hotline call"),
    A.CRISIS_UPDATE: _l("Updated a crisis response"),
    A.CRISIS_VIEW: _l("Read a crisis response"),
    A.GUARDIAN_CONTACT: _l("Recorded a guardian contact"),
    A.SPECIAL_CARE_CHANGE: _l("Changed special-care categories"),
    A.FOLLOWUP_CREATE: _l("Scheduled a follow-up"),
    A.FOLLOWUP_COMPLETE: _l("Completed a follow-up"),
    A.FOLLOWUP_VIEW: _l("Read follow-ups"),
    A.DASHBOARD_VIEW: _l("Opened a dashboard"),
    A.REPORT_RELEASE: _l("Released a report table (export or print)"),
    A.REPORT_VIEW: _l("Opened a report"),
    A.REPORT_EXPORT: _l("Downloaded a report (CSV or XLSX)"),
    A.REPORT_PRINT: _l("Printed a report"),
    A.KEYS_INIT: _l("Created the encryption keys"),
    A.KEYS_ROTATE: _l("Rotated an encryption key"),
    A.KEYS_REWRAP: _l("Moved keys to a new master key"),
    A.AUDIT_SEARCH: _l("Searched the audit trail"),
    A.AUDIT_EXPORT: _l("Exported the audit trail"),
    A.AUDIT_CHECKPOINT: _l("Wrote an audit checkpoint"),
    A.AUDIT_VERIFY: _l("Verified the audit trail"),
    A.AUDIT_STUDENT_VIEW: _l("Viewed who accessed a record"),
    A.AUDIT_QUEUE_VIEW: _l("Opened an audit review queue"),
    A.BREAK_GLASS_VIEW: _l("Opened a break-glass grant for review"),
    A.CALENDAR_TOKEN: _l("Changed the calendar link"),
    A.FOLLOWUP_CANCEL: _l("Cancelled a follow-up"),
    A.NOTE_CREATE: _l("Wrote a counselling note"),
    A.NOTE_SIGN: _l("Signed a counselling note"),
    A.NOTE_LOCK: _l("Locked an unsigned counselling note"),
    A.NOTE_ADDENDUM: _l("Added to a counselling note"),
    A.NOTE_VIEW: _l("Read counselling notes"),
    A.PLAN_VIEW: _l("Read a student's plan"),
    A.PLAN_WRITE: _l("Changed a student's plan"),
    A.PLAN_SIGNOFF: _l("Signed off or returned a plan"),
    A.TASK_CREATE: _l("Gave a task from a plan"),
    A.TASK_DONE: _l("Completed a task from a plan"),
    A.TASK_CANCEL: _l("Cancelled tasks from a plan"),
    A.TASK_VIEW: _l("Read tasks from plans"),
    A.EMAIL_FAILED: _l("An e-mail could not be sent"),
    A.STUDENT_LEAVE: _l("Recorded that a student left the school"),
    A.STUDENT_GRADUATE: _l("Recorded that a student graduated"),
    A.RECORD_SEAL: _l("Sealed a student's record"),
    A.RECORD_PURGE: _l("Purged a sealed record (retention)"),
    A.UNSCREENED_EXPORT: _l("Downloaded the list of students not screened"),
}

OUTCOME_LABELS: dict[str, object] = {
    "allowed": _l("Allowed"),
    "denied": _l("Refused"),
    "error": _l("Error"),
}

ACTOR_ROLE_LABELS: dict[str, object] = {
    **{str(role): label for role, label in ROLE_LABELS.items()},
    "system": _l("System"),
}

OBJECT_LABELS: dict[str, object] = {
    "student": _l("Student record"),
    "user": _l("User account"),
    "alert": _l("Alert"),
    "alert_batch": _l("Alerts (batch)"),
    "alert_queue": _l("Alert queue"),
    "followup": _l("Follow-up"),
    "followup_batch": _l("Follow-ups (batch)"),
    "break_glass": _l("Break-glass grant"),
    "breakglass": _l("Break-glass grant"),
    "crisis": _l("Crisis response"),
    "crisis_batch": _l("Crisis responses (batch)"),
    "crisis_list": _l("Crisis list"),
    "tier_decision": _l("Tier decision"),
    "tierdecision": _l("Tier decision"),
    "tier_batch": _l("Tier decisions (batch)"),
    "campaign": _l("Screening campaign"),
    "audit_trail": _l("Audit trail"),
    "school": _l("School"),
    "class": _l("Class"),
    "schoolclass": _l("Class"),
    "data_key": _l("Encryption key"),
    "concern": _l("Concern"),
    "concern_list": _l("Concern list"),
    "concern_form": _l("Concern form"),
    "membership": _l("Role assignment"),
    "kiosk": _l("Screening kiosk"),
    "hotline_call": _l("Hotline call"),
    "calendar_token": _l("Calendar link"),
    "api_token": _l("API token"),
    "stepdown_queue": _l("Step-down queue"),
    "screening_response": _l("Screening response"),
    "screening_held": _l("Held screening results"),
    "school_dashboard": _l("School dashboard"),
    "district_dashboard": _l("District dashboard"),
    "review_queue": _l("Review queue"),
    "outbox_message": _l("E-mail"),
    "guardian_contact": _l("Guardian contact"),
    "referral": _l("Referral"),
    "health_partner": _l("Health partner"),
    "calendar_day": _l("Working calendar day"),
    "district_policy": _l("Tier policy"),
    "column_mapping": _l("Column mapping"),
    "checkpoint": _l("Audit checkpoint"),
    "chain": _l("Audit chain"),
    "route": _l("Page"),
    "record_export": _l("Copy of a record for a guardian"),
    "plan": _l("Plan"),
    "plan_batch": _l("Plans (batch)"),
    "plan_version": _l("Plan version"),
    "plan_task": _l("Task from a plan"),
    "plan_task_batch": _l("Tasks from plans (batch)"),
    "report_named_export": _l("List of names from a report"),
}


def action_label(code: str | None) -> object:
    return ACTION_LABELS.get(code or "", code or "")


def outcome_label(code: str | None) -> object:
    return OUTCOME_LABELS.get(code or "", code or "")


def role_label(code: str | None) -> object:
    return ACTOR_ROLE_LABELS.get(code or "", code or "")


def object_label(code: str | None) -> object:
    return OBJECT_LABELS.get(code or "", code or "")


def has_label(kind: str, code: str | None) -> bool:
    """Whether the console can show ``code`` as words (else it shows the code as a code)."""
    table = {"action": ACTION_LABELS, "outcome": OUTCOME_LABELS, "role": ACTOR_ROLE_LABELS,
             "object": OBJECT_LABELS}[kind]  # fmt: skip
    return (code or "") in table
