"""Privileged and security-relevant actions leave append-only audit records."""

from __future__ import annotations

import inspect

from app.audit import AuditLog
from tests.factories import Api, create_demo_user

REFRESH = "mutation($t: String!) { refreshSession(input: {refreshToken: $t}) { accessToken } }"


async def test_staff_sign_in_and_reuse_detection_are_audited(api: Api) -> None:
    await create_demo_user(api.state, "13800000201")  # a clerk
    await create_demo_user(api.state, "13800000001")  # a citizen: not audited on sign-in
    clerk = await api.login("13800000201")
    citizen = await api.login("13800000001")
    await api.data(REFRESH, {"t": citizen["refreshToken"]})
    await api.data(REFRESH, {"t": citizen["refreshToken"]})  # reuse
    actions = [e["action"] for e in await AuditLog(api.state.db).recent()]
    assert actions.count("auth.sign_in") == 1
    assert "auth.session.reuse_detected" in actions
    sign_in = (await AuditLog(api.state.db).recent(action="auth.sign_in"))[0]
    assert sign_in["actor_roles"] == ["CLERK", "CITIZEN"]
    assert sign_in["details"] == {"method": "sms"}
    assert clerk["accessToken"]
    assert "13800000201" not in str(sign_in)  # no personal data in the clear


def test_audit_log_has_no_way_to_change_a_record() -> None:
    public = {
        n for n, _ in inspect.getmembers(AuditLog, inspect.isfunction) if not n.startswith("_")
    }
    assert public == {"record", "recent"}
