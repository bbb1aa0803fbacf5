from sqlalchemy import select
from wellbeing.auth.models import Membership
from wellbeing.core.authz import Role
from tests.orgs.test_admin_screens import _admin
from tests.factories import make_school, make_user
def test_dbg(client, db_session, env):
    _admin(client, db_session, env)
    own, other = make_school(db_session), make_school(db_session)
    leader = make_user(db_session, env.settings, Role.SCHOOL_LEADER, school=own)
    url = f"/admin/users/{leader.id}/memberships"
    grant = {"role": "school_leader", "school": str(other.id), "school_class": ""}
    print(client.post(url, data=grant).status_code)
    print([(m.id, m.school_id == other.id) for m in db_session.scalars(select(Membership).where(Membership.user_id == leader.id))])
    print(client.post(url, data=grant).status_code)
    db_session.expire_all()
    print([(m.id, m.school_id == other.id) for m in db_session.scalars(select(Membership).where(Membership.user_id == leader.id))])
