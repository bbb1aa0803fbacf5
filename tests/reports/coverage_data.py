"""A small fixed screening data set for the coverage report (counts worked out by hand in the
tests).

School A, campaign "Autumn" (PHQ-9 and GAD-7, grades 7 and 8, also at school B):

========  =====  =========================================  ==========
class     grade  students (responses)                       column
========  =====  =========================================  ==========
A 1班     7      王一 (both), 李二 (both)                    screened
                 刘五 (both, answered at school B, moved)   screened
                 张三 (PHQ-9 only)                          incomplete
                 安静 (PHQ-9 voided, GAD-7)                 voided
                 陈明 (none)                                missing
                 周七 (none, left the school)               not counted
A 2班     7      孙八 (both)                                screened
                 白雪 (PHQ-9 with too many blanks, GAD-7)   incomplete
                 赵六 (none)                                missing
A 1班     8      吴九 (both), 郑十 (both)                    screened
A 1班     9      冯一 (none: grade 9 is not a target)       not counted
B 1班     7      钱二 (both)                                screened
                 何三 (none)                                missing
========  =====  =========================================  ==========

An older campaign (closed) and an upcoming one also cover school A, without responses.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from wellbeing.config import Settings
from wellbeing.core.authz import Role
from wellbeing.db import utcnow
from wellbeing.screening.models import Campaign, Response
from wellbeing.screening.services import create_campaign
from wellbeing.students.models import Student

from ..factories import make_class, make_school, make_student, make_user


@dataclass
class CoverageWorld:
    school_a: Any
    school_b: Any
    campaign: Campaign
    older: Campaign
    upcoming: Campaign
    classes: dict[str, Any]
    students: dict[str, Student]
    users: dict[str, Any] = field(default_factory=dict)


def respond(
    session: Session, campaign: Campaign, student: Student, instrument: str, *,
    voided: bool = False, incomplete: bool = False, school_id: Any = None,
) -> Response:  # fmt: skip
    response = Response(
        campaign_id=campaign.id, student_id=student.id,
        school_id=school_id or student.school_id, class_id=student.class_id,
        grade=student.grade, instrument=instrument, total_band=None, bands={}, tier=0,
        source="form", voided=voided, incomplete=incomplete, data={"answers": {}, "scores": {}},
    )  # fmt: skip
    session.add(response)
    return response


def build(session: Session, settings: Settings) -> CoverageWorld:
    today = utcnow().date()
    a = make_school(session, name="甲校")
    b = make_school(session, name="乙校")
    classes = {
        "a7_1": make_class(session, a, 7, "1班"), "a7_2": make_class(session, a, 7, "2班"),
        "a8_1": make_class(session, a, 8, "1班"), "a9_1": make_class(session, a, 9, "1班"),
        "b7_1": make_class(session, b, 7, "1班"),
    }  # fmt: skip
    placement = {
        "王一": "a7_1", "李二": "a7_1", "刘五": "a7_1", "张三": "a7_1", "安静": "a7_1",
        "陈明": "a7_1", "周七": "a7_1", "孙八": "a7_2", "白雪": "a7_2", "赵六": "a7_2",
        "吴九": "a8_1", "郑十": "a8_1", "冯一": "a9_1", "钱二": "b7_1", "何三": "b7_1",
    }  # fmt: skip
    students = {
        name: make_student(session, a if key.startswith("a") else b, classes[key], name=name)
        for name, key in placement.items()
    }
    students["周七"].status = "left"
    campaign = create_campaign(
        session, None, name="Autumn", instruments=["phq9", "gad7"], schools=[a, b],
        grades=[7, 8], opens_on=today - dt.timedelta(days=10),
        closes_on=today + dt.timedelta(days=20),
    )  # fmt: skip
    older = create_campaign(
        session, None, name="Spring", instruments=["phq9"], schools=[a], grades=[7, 8, 9],
        opens_on=today - dt.timedelta(days=200), closes_on=today - dt.timedelta(days=170),
    )  # fmt: skip
    upcoming = create_campaign(
        session, None, name="Winter", instruments=["phq9"], schools=[a], grades=[7],
        opens_on=today + dt.timedelta(days=30), closes_on=today + dt.timedelta(days=60),
    )  # fmt: skip
    for name in ("王一", "李二", "孙八", "吴九", "郑十", "钱二"):
        respond(session, campaign, students[name], "phq9")
        respond(session, campaign, students[name], "gad7")
    respond(session, campaign, students["刘五"], "phq9", school_id=b.id)
    respond(session, campaign, students["刘五"], "gad7", school_id=b.id)
    respond(session, campaign, students["张三"], "phq9")
    respond(session, campaign, students["安静"], "phq9", voided=True)
    respond(session, campaign, students["安静"], "gad7")
    respond(session, campaign, students["白雪"], "phq9", incomplete=True)
    respond(session, campaign, students["白雪"], "gad7")
    session.flush()
    world = CoverageWorld(a, b, campaign, older, upcoming, classes, students)
    world.users = {
        "psych_teacher": make_user(session, settings, Role.PSYCH_TEACHER, school=a),
        "school_leader": make_user(session, settings, Role.SCHOOL_LEADER, school=a),
        "psych_teacher_b": make_user(session, settings, Role.PSYCH_TEACHER, school=b),
        "counsellor": make_user(session, settings, Role.COUNSELLOR),
    }
    return world
