"""The one access policy: "may this user do this to this object".

Permissions are named ``scope:resource:action``. A role grants a set of permissions; the
membership scope (district, school, classes) and the relationship to a student (class, district
involvement, break-glass, later referral addressee and care team) decide which objects they
apply to. Views declare their permission with :func:`wellbeing.web.require`; services call
:func:`ensure` on the objects they touch. Both ask :func:`can`.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from flask_babel import lazy_gettext as _l


class Role(enum.StrEnum):
    PSYCH_TEACHER = "psych_teacher"
    CLASS_TEACHER = "class_teacher"
    SCHOOL_LEADER = "school_leader"
    COUNSELLOR = "counsellor"
    PARTNER = "partner"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


# A health partner's liaison reads children's data from outside the district (issue 15 item 1).
MFA_REQUIRED_ROLES = frozenset({Role.COUNSELLOR, Role.SUPERVISOR, Role.ADMIN, Role.PARTNER})
SCHOOL_ROLES = frozenset({Role.PSYCH_TEACHER, Role.CLASS_TEACHER, Role.SCHOOL_LEADER})


class Permission(enum.StrEnum):
    # anyone / any signed-in user
    PUBLIC = "public:page:view"
    SELF_SESSION = "self:session:use"
    SELF_ACCOUNT = "self:account:manage"
    SELF_TOKENS = "self:tokens:manage"
    SELF_AGENDA = "self:agenda:view"
    SELF_INBOX = "self:alerts:view"
    # administration
    SCHOOLS_MANAGE = "system:schools:manage"
    USERS_MANAGE = "system:users:manage"
    ROSTER_IMPORT = "system:roster:import"
    POLICY_MANAGE = "system:policy:manage"
    # case work on students in scope
    STUDENTS_SEARCH = "case:students:search"
    RECORD_READ = "case:record:read"
    RECORD_WRITE = "case:record:write"
    SPECIAL_CARE_MANAGE = "case:special_care:manage"
    SCREENING_MANAGE = "case:screening:manage"
    SCREENING_READ = "case:screening:read"
    SCREENING_KIOSK = "case:screening:kiosk"
    TIER_DECIDE = "case:tier:decide"
    TIER_APPROVE_STEPDOWN = "case:tier:approve"
    ALERTS_HANDLE = "case:alerts:handle"
    CRISIS_MANAGE = "case:crisis:manage"
    FOLLOWUPS_MANAGE = "case:followups:manage"
    NOTES_READ = "case:notes:read"
    NOTES_WRITE = "case:notes:write"
    NOTES_READ_RESTRICTED = "case:notes:read_restricted"
    PLANS_READ = "case:plans:read"
    PLANS_WRITE = "case:plans:write"
    PLANS_SIGNOFF = "case:plans:signoff"
    RECORD_EXPORT = "case:record:export"
    TASKS_OWN = "self:tasks:complete"
    STUDENTS_TRANSFER = "district:students:transfer"
    BREAK_GLASS = "case:breakglass:start"
    # reporting a concern (class teachers, mentors) without browsing records
    CONCERN_REPORT = "report:concern:create"
    CONCERN_OWN = "report:concern:view_own"
    # statistics without names
    STATS_SCHOOL = "stats:school:view"
    STATS_DISTRICT = "stats:district:view"
    STATS_SCREENING = "stats:screening:view"
    # district centre
    DISTRICT_ESCALATIONS = "district:escalations:triage"
    HOTLINE_LOG = "district:hotline:log"
    # health partners
    PARTNER_REFERRALS = "partner:referrals:respond"
    # referrals (issue 15): the school asks, the centre triages, the admin keeps the partners
    REFERRALS_CREATE = "case:referrals:create"
    REFERRALS_READ = "case:referrals:read"
    REFERRALS_TRIAGE = "district:referrals:triage"
    PARTNERS_MANAGE = "system:partners:manage"
    # audit
    AUDIT_READ = "audit:trail:read"
    AUDIT_EXPORT = "audit:trail:export"
    AUDIT_REVIEW = "audit:breakglass:review"
    AUDIT_INTEGRITY = "audit:integrity:view"
    # API intake
    API_SCREENING_INTAKE = "api:screening:write"


P = Permission
_SIGNED_IN = {P.SELF_SESSION, P.SELF_ACCOUNT, P.SELF_TOKENS}

# fmt: off
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.PSYCH_TEACHER: frozenset(
        _SIGNED_IN | {
            P.SELF_AGENDA, P.SELF_INBOX, P.STUDENTS_SEARCH, P.RECORD_READ, P.RECORD_WRITE,
            P.SPECIAL_CARE_MANAGE, P.SCREENING_MANAGE, P.SCREENING_READ, P.SCREENING_KIOSK,
            P.TIER_DECIDE, P.ALERTS_HANDLE, P.CRISIS_MANAGE, P.FOLLOWUPS_MANAGE,
            P.NOTES_READ, P.NOTES_WRITE, P.CONCERN_REPORT, P.CONCERN_OWN, P.STATS_SCHOOL,
            P.STATS_SCREENING, P.BREAK_GLASS, P.API_SCREENING_INTAKE, P.PLANS_READ,
            P.PLANS_WRITE, P.RECORD_EXPORT, P.TASKS_OWN,
        }
    ),
    Role.CLASS_TEACHER: frozenset(
        _SIGNED_IN | {P.SELF_AGENDA, P.CONCERN_REPORT, P.CONCERN_OWN, P.TASKS_OWN}
    ),
    Role.SCHOOL_LEADER: frozenset(
        _SIGNED_IN | {
            P.SELF_AGENDA, P.SELF_INBOX, P.STUDENTS_SEARCH, P.RECORD_READ, P.ALERTS_HANDLE,
            P.CRISIS_MANAGE, P.TIER_APPROVE_STEPDOWN, P.CONCERN_REPORT, P.CONCERN_OWN,
            P.STATS_SCHOOL, P.STATS_SCREENING,
            P.NOTES_READ,  # notes that are not restricted (DESIGN.md §1: never restricted ones)
            P.PLANS_READ, P.PLANS_SIGNOFF, P.TASKS_OWN,
        }
    ),
    Role.COUNSELLOR: frozenset(
        _SIGNED_IN | {
            P.SELF_AGENDA, P.SELF_INBOX, P.STUDENTS_SEARCH, P.RECORD_READ, P.RECORD_WRITE,
            P.SPECIAL_CARE_MANAGE, P.SCREENING_MANAGE, P.SCREENING_READ, P.TIER_DECIDE,
            P.TIER_APPROVE_STEPDOWN, P.ALERTS_HANDLE, P.CRISIS_MANAGE, P.FOLLOWUPS_MANAGE,
            P.NOTES_READ, P.NOTES_WRITE, P.NOTES_READ_RESTRICTED, P.BREAK_GLASS, P.STATS_SCHOOL,
            P.STATS_DISTRICT,
            P.STATS_SCREENING, P.DISTRICT_ESCALATIONS, P.HOTLINE_LOG, P.CONCERN_REPORT,
            P.CONCERN_OWN, P.PLANS_READ, P.PLANS_WRITE, P.PLANS_SIGNOFF, P.RECORD_EXPORT,
            P.TASKS_OWN, P.STUDENTS_TRANSFER,
        }
    ),
    Role.PARTNER: frozenset(_SIGNED_IN | {P.PARTNER_REFERRALS}),
    Role.SUPERVISOR: frozenset(
        _SIGNED_IN | {
            P.AUDIT_READ, P.AUDIT_EXPORT, P.AUDIT_REVIEW, P.AUDIT_INTEGRITY, P.BREAK_GLASS,
            P.SELF_INBOX,
            P.STATS_DISTRICT,  # counts only: names need RECORD_READ, which supervisors lack
        }
    ),
    Role.ADMIN: frozenset(
        _SIGNED_IN
        | {P.SCHOOLS_MANAGE, P.USERS_MANAGE, P.ROSTER_IMPORT, P.POLICY_MANAGE, P.STUDENTS_TRANSFER}
    ),
}
# fmt: on

# Permissions that act on a student's case content: they need a relationship to the student.
STUDENT_SCOPED = frozenset(
    {
        P.RECORD_READ, P.RECORD_WRITE, P.SPECIAL_CARE_MANAGE, P.SCREENING_READ, P.TIER_DECIDE,
        P.TIER_APPROVE_STEPDOWN, P.ALERTS_HANDLE, P.CRISIS_MANAGE, P.FOLLOWUPS_MANAGE,
        P.NOTES_READ, P.NOTES_WRITE, P.NOTES_READ_RESTRICTED, P.PLANS_READ, P.PLANS_WRITE,
        P.PLANS_SIGNOFF, P.RECORD_EXPORT,
    }
)  # fmt: skip

# Referrals (issue 15, DESIGN.md §1): the psychology teacher refers students of their school;
# leaders and the centre read the school's referrals; the centre triages every school's; the
# admin keeps the partner register. Partners act through PARTNER_REFERRALS on what is addressed
# to their organisation only (``_scope_grants``).
REFERRAL_GRANTS = {
    Role.PSYCH_TEACHER: {P.REFERRALS_CREATE, P.REFERRALS_READ},
    Role.SCHOOL_LEADER: {P.REFERRALS_READ},
    Role.COUNSELLOR: {P.REFERRALS_READ, P.REFERRALS_TRIAGE},
    Role.ADMIN: {P.PARTNERS_MANAGE},
}
for _role, _granted in REFERRAL_GRANTS.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | _granted
STUDENT_SCOPED = STUDENT_SCOPED | {P.REFERRALS_CREATE, P.REFERRALS_READ}


@dataclass(frozen=True)
class Scope:
    role: Role
    district_id: uuid.UUID | None = None
    school_id: uuid.UUID | None = None
    class_id: uuid.UUID | None = None
    partner_id: uuid.UUID | None = None  # a partner liaison's organisation (health_partner)


@dataclass(frozen=True)
class Principal:
    """The acting user as the policy sees it (built once per request from memberships)."""

    user_id: uuid.UUID
    username: str
    scopes: tuple[Scope, ...]
    break_glass_students: frozenset[uuid.UUID] = field(default_factory=frozenset)
    # For API tokens: the permissions the token was issued for (None for browser sessions).
    token_scopes: frozenset[Permission] | None = None

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(s.role for s in self.scopes)

    @property
    def primary_role(self) -> Role | None:
        return self.scopes[0].role if self.scopes else None

    def school_ids(self, *roles: Role) -> frozenset[uuid.UUID]:
        return frozenset(
            s.school_id for s in self.scopes if s.school_id and (not roles or s.role in roles)
        )

    def class_ids(self) -> frozenset[uuid.UUID]:
        return frozenset(s.class_id for s in self.scopes if s.class_id)

    def permissions(self) -> frozenset[Permission]:
        perms: set[Permission] = set()
        for role in self.roles:
            perms |= ROLE_PERMISSIONS[role]
        return frozenset(perms)

    def describe_scope(self) -> str:
        parts = [
            f"{s.role}:{'class' if s.class_id else 'school' if s.school_id else 'district'}"
            for s in self.scopes
        ]
        return ",".join(parts)[:120]


class StudentLike(Protocol):
    id: uuid.UUID
    school_id: uuid.UUID
    class_id: uuid.UUID | None
    district_involved: bool


# Later modules (referrals, plans' care teams) add relationships here: (principal, permission,
# student) -> True when that relationship grants the permission.
RelationshipRule = Callable[[Principal, Permission, Any], bool]
RELATIONSHIP_RULES: list[RelationshipRule] = []


def _scope_grants(scope: Scope, permission: Permission, target: Any) -> bool:
    if permission not in ROLE_PERMISSIONS[scope.role]:
        return False
    if target is None:
        return True
    school_id = getattr(target, "school_id", None)
    if scope.role in SCHOOL_ROLES:
        if scope.class_id is not None:
            class_id = getattr(target, "class_id", None)
            return class_id == scope.class_id or (
                class_id is None
                and school_id == scope.school_id
                and permission not in STUDENT_SCOPED
            )
        return school_id is not None and school_id == scope.school_id
    if scope.role == Role.COUNSELLOR:
        # District staff see students only once the school escalated or referred them.
        if permission in STUDENT_SCOPED and hasattr(target, "district_involved"):
            return bool(target.district_involved)
        return True
    if scope.role == Role.PARTNER and target is not None and hasattr(target, "partner_id"):
        # A liaison acts only on what is addressed to their organisation (the referral module
        # adds state, consent and expiry: referrals.queries.partner_may_see).
        return scope.partner_id is not None and target.partner_id == scope.partner_id
    # Admins, supervisors and partners: district-wide for the permissions their role has;
    # none of those is a student-scoped permission (partners go through relationship rules).
    return permission not in STUDENT_SCOPED


# What a break-glass grant opens on a SEALED record (a student who left or graduated): reading
# only, whatever else the holder's role may do to an enrolled student's record.
SEALED_READABLE = frozenset(
    {P.RECORD_READ, P.SCREENING_READ, P.NOTES_READ, P.NOTES_READ_RESTRICTED, P.PLANS_READ}
)


def is_sealed(target: Any) -> bool:
    """A target that says it is sealed (``Student.sealed``: the student left or graduated)."""
    return bool(getattr(target, "sealed", False))


def can(principal: Principal | None, permission: Permission, target: Any = None) -> bool:
    """May ``principal`` use ``permission`` on ``target`` (a student, school, or None)?

    A sealed student (``target.sealed``, issue 14 item 9) refuses every student-scoped
    permission to everyone, scope and relationships included; only a break-glass grant for
    that student opens it, and then only for reading (:data:`SEALED_READABLE`)."""
    if permission == Permission.PUBLIC:
        return True
    if principal is None:
        return False
    if principal.token_scopes is not None and permission not in principal.token_scopes:
        return False
    sealed = permission in STUDENT_SCOPED and is_sealed(target)
    if not sealed and any(_scope_grants(scope, permission, target) for scope in principal.scopes):
        return True
    student_id = _student_id_of(target)
    if student_id is not None and student_id in break_glass_reach(principal):
        opened = principal.permissions() | {P.RECORD_READ, P.SCREENING_READ}
        return permission in (opened & SEALED_READABLE if sealed else opened)
    if sealed:
        return False
    return any(rule(principal, permission, target) for rule in RELATIONSHIP_RULES)


def break_glass_reach(principal: Principal) -> frozenset[uuid.UUID]:
    """The students a break-glass grant opens to this request: a grant is for the person at the
    screen, so an API token (a machine pulling data) never reaches through it."""
    return principal.break_glass_students if principal.token_scopes is None else frozenset()


def downloads_refused(principal: Principal | None) -> bool:
    """Separation of duties: nobody downloads or exports anything (FHIR files, CSV exports, any
    route declared ``require(..., download=True)``) while holding a live break-glass grant; the
    person reads on screen, and ends the grant first to use exports again."""
    return principal is not None and bool(principal.break_glass_students)


def _student_id_of(target: Any) -> uuid.UUID | None:
    if target is None:
        return None
    if type(target).__name__ == "Student":
        return target.id
    return getattr(target, "student_id", None)


class Forbidden(Exception):
    """Raised by :func:`ensure`; the web layer turns it into an audited 403. ``rule`` (a code,
    recorded in the denied entry) and ``message`` (translated, shown to the person) say why when
    the reason is a rule beyond the permission itself."""

    def __init__(
        self, permission: Permission, target: Any = None, *, rule: str = "", message: Any = None
    ) -> None:
        super().__init__(f"permission {permission} denied")
        self.permission, self.target = permission, target
        self.rule, self.message = rule, message


def ensure(principal: Principal | None, permission: Permission, target: Any = None) -> None:
    if not can(principal, permission, target):
        if _sealed_for(principal, permission, target):
            raise Forbidden(permission, target, rule="sealed_record", message=SEALED_MESSAGE)
        raise Forbidden(permission, target)


def _sealed_for(principal: Principal | None, permission: Permission, target: Any) -> bool:
    """Is the seal what refused? Said only to someone the record would be open to otherwise
    (their scope, or a break-glass grant for this student)."""
    if principal is None or permission not in STUDENT_SCOPED or not is_sealed(target):
        return False
    return any(_scope_grants(s, permission, target) for s in principal.scopes) or (
        _student_id_of(target) in break_glass_reach(principal)
    )


# The person's reason when a sealed record refuses them (lazy: rendered in their language).
SEALED_MESSAGE = _l(
    "This student has left or graduated: the record is sealed and read-only. District "
    "counsellors open it only through break-glass."
)
