"""/console/: two operators draft and approve a policy push and watch `zsb worker` deliver it
to the loopback FCM server; a clerk works the queue by deadline risk; an admin sees the
catalogue KPIs as charts."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from playwright.sync_api import Browser, expect

from app.ids import object_id_from_global
from applications.deadlines import CHINA
from auth.models import AssuranceLevel, Role
from auth.permissions import Viewer
from notifications.audience import AudienceReader
from notifications.models import Target
from tests.applications.conftest import business_input
from tests.applications.uploading import stored_upload
from tests.consoles.conftest import Live, new_page, screenshot, sign_in, zsb_worker
from tests.notifications.conftest import insert_citizens

CREATOR = "13800000301"
CHECKER = "13800000302"
CLERK = "13800000201"
ADMIN = "13800000901"
CITIZEN = "13800000001"
HUANGDAO = "370211"

PREVIEW = """
mutation P($t: CampaignTargetInput!) { previewCampaign(input: {target: $t}) { audienceBand } }"""
SUBMIT = """
mutation S($input: SubmitApplicationInput!) {
  submitApplication(input: $input) { application { id status } userErrors { code message } }
}"""


def test_two_operators_draft_approve_and_watch_delivery(browser: Browser, live: Live) -> None:
    citizens = 30
    live.run(insert_citizens(live.state, citizens, region=HUANGDAO))
    operator = live.token(CHECKER)

    # Operators see bands below 1000 (docs/notifications.md): all, the district, and the
    # district's 法人 accounts (none of the inserted citizens) fall in different ones.
    def band(target: dict[str, object]) -> str:
        return str(live.gql(PREVIEW, {"t": target}, operator)["previewCampaign"]["audienceBand"])

    expected_all, expected_region = band({"all": True}), band({"regionCodes": [HUANGDAO]})
    expected_orgs = band({"regionCodes": [HUANGDAO], "audience": "ORGANIZATION"})
    assert expected_all == expected_region == "10–99"
    assert expected_orgs == "<10"

    creator = new_page(browser, live)
    creator.goto("/console/")
    expect(creator.get_by_role("heading", name="工作人员登录")).to_be_visible()
    screenshot(creator, "console-sign-in.png")
    sign_in(creator, live, CREATOR)
    expect(creator.get_by_role("heading", name="新建政策推送")).to_be_visible()
    creator.get_by_label("标题（40 字以内）").fill("黄岛区稳岗补贴免申即享")
    creator.get_by_label("正文（500 字以内）").fill("符合条件的企业无需申请，补贴将直接拨付。")
    count = creator.locator("#audience-count")
    creator.get_by_label("全体市民").check()
    expect(count).to_have_text(expected_all)
    creator.get_by_label("全体市民").uncheck()
    creator.get_by_label("黄岛区").check()
    creator.get_by_label("对象类型").select_option("ORGANIZATION")
    expect(count).to_have_text(expected_orgs)  # the live count follows the target
    creator.get_by_label("对象类型").select_option("")
    expect(count).to_have_text(expected_region)
    screenshot(creator, "console-campaign-draft.png")
    creator.get_by_role("button", name="提交审批").click()
    expect(creator.locator("#create-status")).to_contain_text("等待另一名操作员审批")
    row = creator.locator("#campaigns tbody tr").filter(has_text="黄岛区稳岗补贴免申即享")
    expect(row.locator("[data-status]")).to_have_attribute("data-status", "PENDING_APPROVAL")
    expect(row).to_contain_text("等待另一名操作员审批")
    expect(row.locator("[data-action=approve]")).to_have_count(0)  # four eyes: not one's own
    screenshot(creator, "console-campaign-pending.png")

    checker = new_page(browser, live, width=1024, height=1366)  # a tablet
    checker.goto("/console/")
    sign_in(checker, live, CHECKER)
    theirs = checker.locator("#campaigns tbody tr").filter(has_text="黄岛区稳岗补贴免申即享")
    theirs.get_by_role("button", name="审批通过").click()
    expect(checker.locator("#list-status")).to_contain_text("已审批")
    expect(theirs.locator("[data-status]")).to_have_attribute("data-status", "APPROVED")

    # The creator watches; nothing moves until a worker runs.
    row.get_by_role("button", name="查看进度").click()
    sent = creator.locator("[data-stat=sent]")
    expect(sent).to_have_text(expected_region)  # before planning: the draft's band only
    reached = live.run(AudienceReader(live.state.db).count(Target(region_codes=(HUANGDAO,))))
    with zsb_worker(live):
        targeted = creator.locator("[data-stat=targeted]")
        expect(targeted).to_have_text(str(reached), timeout=30_000)  # sent: exact (≥ 10)
        # Every one of the inserted citizens has a device that FCM accepts.
        expect(sent).to_have_text(str(citizens), timeout=30_000)
        expect(creator.locator("#progress-status [data-status]")).to_have_attribute(
            "data-status", "DONE", timeout=30_000
        )
    expect(creator.locator("[data-stat=failed]")).to_have_text("0")
    expect(creator.locator("#progress-chart path.line")).to_have_count(4)
    screenshot(creator, "console-campaign-progress.png")
    creator.context.close()
    checker.context.close()


def test_clerk_queue_by_deadline_risk(browser: Browser, live: Live) -> None:
    citizen = live.token(CITIZEN)
    # Material references must be the applicant's own uploads.
    user = live.run(live.state.auth_service().find_user_by_phone(CITIZEN))
    assert user is not None
    viewer = Viewer(user.id, "console", frozenset({Role.CITIZEN}), AssuranceLevel.L3)
    ids = []
    for key in ("console-a", "console-b", "console-c"):
        sub = business_input(key)
        for i, material in enumerate(sub["materials"]):
            material["reference"] = live.run(stored_upload(live.state, viewer, f"{key}-{i}"))
        payload = live.gql(SUBMIT, {"input": sub}, citizen)["submitApplication"]
        assert payload["userErrors"] == [], payload
        ids.append(object_id_from_global(payload["application"]["id"], "Application"))
    now = datetime.now(UTC)
    end_of_today = datetime.combine(now.astimezone(CHINA).date(), datetime.max.time(), CHINA)
    dues = [now + timedelta(days=30), now - timedelta(hours=2), end_of_today]  # GREEN, RED, YELLOW
    for app_id, due in zip(ids, dues, strict=True):
        live.run(
            live.state.db["applications"].update_one({"_id": app_id}, {"$set": {"due_at": due}})
        )

    page = new_page(browser, live)
    page.goto("/console/")
    sign_in(page, live, CLERK)
    expect(page.get_by_role("heading", name="办件队列（按超期风险排序）")).to_be_visible()
    rows = page.locator("#queue tbody tr")
    expect(rows).to_have_count(3)
    lights = [rows.nth(i).get_attribute("data-light") for i in range(3)]
    assert lights == ["RED", "YELLOW", "GREEN"]
    expect(rows.first).to_contain_text("红灯")
    expect(rows.nth(1)).to_contain_text("黄灯")
    expect(page.locator("#queue-summary")).to_have_text("待办 3 件：红灯 1 件，黄灯 1 件")
    screenshot(page, "console-queue.png")

    # The overdue case first: accept, then approve; it leaves the queue.
    rows.first.get_by_role("button", name="受理").click()
    expect(page.locator("#queue-status")).to_contain_text("已受理")
    expect(rows.first.locator("[data-status]")).to_have_attribute("data-status", "ACCEPTED")
    rows.first.get_by_role("button", name=re.compile("^批准")).click()
    expect(page.locator("#queue-status")).to_contain_text("已批准")
    expect(rows).to_have_count(2)
    expect(rows.first).to_have_attribute("data-light", "YELLOW")
    # 退回补正 with every deficiency at once.
    rows.first.get_by_role("button", name="退回补正").click()
    rows.first.get_by_label("补正事项（多项用分号分隔）").fill(
        "经营场所使用证明不清晰；申请书缺签字"
    )
    rows.first.get_by_role("button", name="确定").click()
    expect(page.locator("#queue-status")).to_contain_text("已退回")
    expect(rows).to_have_count(1)
    page.context.close()


APPROVE_STEPS = [
    """mutation A($i: AcceptApplicationInput!) { acceptApplication(input: $i) {
      userErrors { code } } }""",
    """mutation A($i: ApproveApplicationInput!) { approveApplication(input: $i) {
      userErrors { code } } }""",
]


def test_clerk_records_the_shipment_of_a_posted_result(browser: Browser, live: Live) -> None:
    citizen = live.token(CITIZEN)
    user = live.run(live.state.auth_service().find_user_by_phone(CITIZEN))
    assert user is not None
    viewer = Viewer(user.id, "console", frozenset({Role.CITIZEN}), AssuranceLevel.L3)
    sub = business_input("console-post")
    for i, material in enumerate(sub["materials"]):
        material["reference"] = live.run(stored_upload(live.state, viewer, f"post-{i}"))
    sub["resultDelivery"] = {
        "method": "POST",
        "address": {
            "recipientName": "张三明",
            "phone": CITIZEN,
            "region": "370202",
            "line": "香港中路100号3单元501室",
        },
    }
    payload = live.gql(SUBMIT, {"input": sub}, citizen)["submitApplication"]
    assert payload["userErrors"] == [], payload
    app_id = payload["application"]["id"]
    clerk = live.token(CLERK)
    for step in APPROVE_STEPS:
        done = next(iter(live.gql(step, {"i": {"applicationId": app_id}}, clerk).values()))
        assert done["userErrors"] == []

    # The queue test signed this clerk in a moment ago: one code a minute per phone.
    live.run(live.state.db["login_code_quotas"].delete_many({}))
    page = new_page(browser, live)
    page.goto("/console/#shipping")
    sign_in(page, live, CLERK)
    expect(page.get_by_role("heading", name="待邮寄（办理结果邮寄送达）")).to_be_visible()
    row = page.locator(f'#shipping tbody tr[data-id="{app_id}"]')
    expect(row).to_contain_text("张*明 138****0001")  # masked, never the full address
    screenshot(page, "console-shipping.png")
    # 打印面单: the full address for the waybill, in the label panel only, gone when closed.
    row.get_by_role("button", name=re.compile("^打印面单")).click()
    label = page.locator("#shipping-label")
    expect(label).to_contain_text(f"电话：{CITIZEN}")
    expect(label).to_contain_text("详细地址：香港中路100号3单元501室")
    expect(row).not_to_contain_text(CITIZEN)
    label.get_by_role("button", name="关闭").click()
    expect(label).to_be_hidden()
    expect(label).not_to_contain_text(CITIZEN)
    row.get_by_label(re.compile("^运单号")).fill("EA123456784CN")  # wrong check digit
    row.get_by_role("button", name="登记寄出").click()
    expect(page.locator("#shipping-status")).to_contain_text("运单号与中国邮政EMS的格式不符")
    row.get_by_label(re.compile("^运单号")).fill("EA123456785CN")
    row.get_by_role("button", name="登记寄出").click()
    expect(page.locator("#shipping-status")).to_contain_text("已登记寄出")
    expect(page.locator("#shipping tbody tr")).to_have_count(1)
    expect(page.locator("#shipping tbody")).to_contain_text("没有待邮寄的办件")
    page.context.close()


def test_admin_sees_catalogue_kpis(browser: Browser, live: Live) -> None:
    page = new_page(browser, live, width=1024, height=1366)
    page.goto("/console/")
    # Keyboard only: the phone field has focus, Tab reaches the code button, Enter signs in.
    expect(page.get_by_label("手机号码")).to_be_focused()
    page.keyboard.type(ADMIN)
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="获取验证码")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_label("短信验证码")).to_be_focused()
    page.keyboard.type(live.sms_code(ADMIN))
    page.keyboard.press("Enter")
    expect(page.locator("#tab-kpis")).to_have_attribute("aria-current", "page")
    published = page.locator("#kpi-published")
    expect(published).not_to_have_text("0")
    assert int(published.inner_text()) > 100  # the demo catalogue
    expect(page.locator("#kpi-online-share")).to_contain_text("%")
    for chart in ("kpi-shares", "kpi-modes", "kpi-scope", "kpi-hot"):
        expect(page.locator(f"#{chart} rect.bar").first).to_be_visible()
    expect(page.locator("#kpi-modes")).to_have_attribute("role", "img")
    screenshot(page, "console-kpis.png")
    page.context.close()
