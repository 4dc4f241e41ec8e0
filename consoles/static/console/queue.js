// 办件队列: open cases ordered by deadline risk (红灯 overdue, 黄灯 due soon, then by due time),
// with the clerk's actions for each state.
import { gql, userError } from "/web/api.js";
import { h, clear, announce, formatTime } from "/web/dom.js";

const QUEUE = `{ applicationQueue(first: 100) { nodes {
  id receiptNumber matterName departmentName status slaState dueAt submittedAt pendingSupplements } } }`;
const act = (name, type) => `mutation M($i: ${type}!) { ${name}(input: $i) {
  application { id status } userErrors { field code message } } }`;
const ACCEPT = act("acceptApplication", "AcceptApplicationInput");
const APPROVE = act("approveApplication", "ApproveApplicationInput");
const REJECT = act("rejectApplication", "RejectApplicationInput");
const RETURN = act("returnApplication", "ReturnApplicationInput");

const RISK = { RED: 0, YELLOW: 1, GREEN: 2 };
const LIGHTS = { RED: "红灯 超期", YELLOW: "黄灯 临期", GREEN: "绿灯 正常" };
const STATUS = {
  SUBMITTED: "待受理",
  ACCEPTED: "已受理",
  ACCEPTED_PENDING_SUPPLEMENT: "容缺受理（待补材料）",
  IN_REVIEW: "审查中",
};

export function byRisk(a, b) {
  const risk = (RISK[a.slaState] ?? 3) - (RISK[b.slaState] ?? 3);
  if (risk) return risk;
  return (a.dueAt ? Date.parse(a.dueAt) : Infinity) - (b.dueAt ? Date.parse(b.dueAt) : Infinity);
}

export function queueView(root) {
  const status = h("p", { class: "status", role: "status", "aria-live": "polite", id: "queue-status" });
  const rows = h("tbody", {});
  const summary = h("p", { id: "queue-summary", class: "audience" });
  clear(root).append(
    h("section", { class: "card", "aria-labelledby": "queue-title" },
      h("h2", { id: "queue-title" }, "办件队列（按超期风险排序）"),
      summary,
      h("table", { id: "queue" },
        h("caption", { class: "visually-hidden" }, "待办件，红灯（超期）在前，其次黄灯（临期），再按承诺办结时间"),
        h("thead", {}, h("tr", {}, ...["亮灯", "办件编号", "事项", "状态", "承诺办结时间", "操作"].map((t) => h("th", { scope: "col" }, t)))),
        rows),
      status));

  async function run(mutation, input, done) {
    try {
      const payload = Object.values(await gql(mutation, { i: input }))[0];
      const problem = userError(payload);
      if (problem) throw problem;
      announce(status, done);
      await load();
    } catch (err) {
      announce(status, err.message, "error");
    }
  }

  function reasonForm(app, label, mutation, build, done) {
    const id = `reason-${app.receiptNumber}`;
    const input = h("input", { id, required: true });
    const form = h("form", { class: "row" }, h("label", { for: id, class: "visually-hidden" }, label), input, h("button", { type: "submit", class: "danger" }, "确定"));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      if (input.value.trim()) run(mutation, build(input.value.trim()), done);
    });
    return form;
  }

  function actionsFor(app) {
    const box = h("div", { class: "actions" });
    const who = app.receiptNumber ?? app.id;
    const button = (text, onclick, cls = "") => h("button", { type: "button", class: cls, onclick, "aria-label": `${text}：${who}` }, text);
    if (app.status === "SUBMITTED") {
      box.append(button("受理", () => run(ACCEPT, { applicationId: app.id }, `已受理 ${who}`), "primary"));
      box.append(button("退回补正", () => box.replaceChildren(reasonForm(app, "补正事项（多项用分号分隔）", RETURN, (v) => ({ applicationId: app.id, deficiencies: v.split(/[;；]/).map((s) => s.trim()).filter(Boolean) }), `已退回 ${who}`)), "danger"));
    }
    if (app.status === "ACCEPTED" || app.status === "IN_REVIEW") {
      box.append(button("批准", () => run(APPROVE, { applicationId: app.id, note: "符合条件，予以批准" }, `已批准 ${who}`), "primary"));
    }
    if (["ACCEPTED", "IN_REVIEW", "ACCEPTED_PENDING_SUPPLEMENT"].includes(app.status)) {
      box.append(button("不予批准", () => box.replaceChildren(reasonForm(app, "不予批准的理由", REJECT, (v) => ({ applicationId: app.id, reason: v }), `已作出不予批准决定 ${who}`)), "danger"));
    }
    return box;
  }

  async function load() {
    let nodes;
    try {
      nodes = (await gql(QUEUE)).applicationQueue.nodes;
    } catch (err) {
      announce(status, err.message, "error");
      return;
    }
    nodes.sort(byRisk);
    const red = nodes.filter((n) => n.slaState === "RED").length;
    const yellow = nodes.filter((n) => n.slaState === "YELLOW").length;
    summary.textContent = `待办 ${nodes.length} 件：红灯 ${red} 件，黄灯 ${yellow} 件`;
    clear(rows);
    if (!nodes.length) rows.append(h("tr", {}, h("td", { colspan: 6, class: "muted" }, "队列为空")));
    for (const app of nodes) {
      rows.append(h("tr", { "data-id": app.id, "data-light": app.slaState ?? "" },
        h("td", {}, h("span", { class: `light ${app.slaState ?? ""}` }, LIGHTS[app.slaState] ?? "—")),
        h("td", {}, app.receiptNumber ?? "—"),
        h("td", {}, app.matterName, h("div", { class: "muted" }, app.departmentName)),
        h("td", { "data-status": app.status }, STATUS[app.status] ?? app.status),
        h("td", {}, formatTime(app.dueAt)),
        h("td", {}, actionsFor(app))));
    }
  }

  load();
  const timer = setInterval(load, 30000);
  return () => clearInterval(timer);
}
