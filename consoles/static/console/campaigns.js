// 政策推送: draft with a live audience count, four-eyes approval, delivery progress over time.
import { gql, userError } from "/web/api.js";
import { h, clear, announce, debounce, formatTime } from "/web/dom.js";
import { lineChart } from "/web/chart.js";

const PREVIEW = `mutation P($t: CampaignTargetInput!) { previewCampaign(input: {target: $t}) {
  audienceBand userErrors { field code message } } }`;
const CREATE = `mutation C($i: CreateCampaignInput!) { createCampaign(input: $i) {
  campaign { id status } userErrors { field code message } } }`;
const APPROVE = `mutation A($id: ID!) { approveCampaign(input: {campaignId: $id}) {
  campaign { id status } userErrors { field code message } } }`;
const CANCEL = `mutation X($id: ID!) { cancelCampaign(input: {campaignId: $id}) {
  campaign { id status } userErrors { field code message } } }`;
const LIST = `{ campaigns(first: 20) { nodes { id title status createdByMe createdAt } } }`;
const PROGRESS = `query G($id: ID!) { campaign(id: $id) { id title status
  stats { targeted queued inboxed sent failed suppressed opened band } } }`;
const REGIONS = `{ regions { code name } }`;

const STATUS = {
  PENDING_APPROVAL: ["待审批", "warn"],
  APPROVED: ["已批准", "ok"],
  SENDING: ["发送中", "ok"],
  DONE: ["已完成", "ok"],
  CANCELLED: ["已取消", "bad"],
};
const SERIES = [
  ["targeted", "覆盖"],
  ["sent", "已送达"],
  ["failed", "失败"],
  ["opened", "已打开"],
];

function badge(status) {
  const [text, kind] = STATUS[status] ?? [status, ""];
  return h("span", { class: `badge ${kind}`, "data-status": status }, text);
}

export function campaignsView(root) {
  const timers = [];
  const formStatus = h("p", { class: "status", role: "status", "aria-live": "polite", id: "create-status" });
  const count = h("strong", { id: "audience-count" }, "—");
  const audienceLine = h("p", { class: "audience", "aria-live": "polite", id: "audience" }, "预计覆盖 ", count, " 人");
  const title = h("input", { id: "c-title", name: "title", maxlength: 40, required: true });
  const body = h("textarea", { id: "c-body", name: "body", maxlength: 500, required: true });
  const link = h("input", { id: "c-link", name: "deepLink", placeholder: "zsb://… 或 https://…" });
  const all = h("input", { type: "checkbox", id: "c-all", name: "all" });
  const regionBox = h("div", { class: "checks", id: "c-regions" });
  const audience = h("select", { id: "c-audience" }, h("option", { value: "" }, "不限"), h("option", { value: "PERSON" }, "个人"), h("option", { value: "ORGANIZATION" }, "法人"));
  const tags = h("input", { id: "c-tags", placeholder: "多个标签用逗号分隔" });
  const phones = h("textarea", { id: "c-phones", placeholder: "每行一个手机号（可选）" });

  const target = () => {
    if (all.checked) return { all: true };
    const t = {};
    const regions = [...regionBox.querySelectorAll("input:checked")].map((i) => i.value);
    if (regions.length) t.regionCodes = regions;
    if (audience.value) t.audience = audience.value;
    const tagList = tags.value.split(/[,，\s]+/).filter(Boolean);
    if (tagList.length) t.tags = tagList;
    const phoneList = phones.value.split(/[\s,，]+/).filter(Boolean);
    if (phoneList.length) t.phones = phoneList;
    return t;
  };

  const preview = debounce(async () => {
    const t = target();
    if (!Object.keys(t).length) { count.textContent = "—"; return; }
    try {
      const payload = (await gql(PREVIEW, { t })).previewCampaign;
      const problem = userError(payload);
      // The server sends a band ("<10", "10–99", …; exact only for large filter-only targets).
      count.textContent = problem ? "—" : payload.audienceBand;
      if (problem) announce(formStatus, problem.message, "error");
      else announce(formStatus, "");
    } catch (err) {
      announce(formStatus, err.message, "error");
    }
  }, 300);

  const form = h(
    "form", { class: "card", id: "create-campaign", "aria-labelledby": "create-title", novalidate: true },
    h("h2", { id: "create-title" }, "新建政策推送"),
    h("div", { class: "grid2" },
      h("div", {},
        h("label", { for: "c-title" }, "标题（40 字以内）"), title,
        h("label", { for: "c-body" }, "正文（500 字以内）"), body,
        h("label", { for: "c-link" }, "跳转链接（可选）"), link),
      h("div", {},
        h("fieldset", {},
          h("legend", {}, "推送范围"),
          h("div", { class: "checks" }, h("label", { for: "c-all" }, all, "全体市民")),
          h("p", { class: "hint", id: "regions-hint" }, "或按区（市）："),
          regionBox,
          h("label", { for: "c-audience" }, "对象类型"), audience,
          h("label", { for: "c-tags" }, "用户标签"), tags,
          h("label", { for: "c-phones" }, "指定号码名单"), phones),
        audienceLine)),
    h("button", { type: "submit", class: "primary", id: "create" }, "提交审批"),
    formStatus,
  );
  form.addEventListener("input", preview);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = { title: title.value, body: body.value, category: "POLICY", target: target() };
    if (link.value.trim()) input.deepLink = link.value.trim();
    try {
      const payload = (await gql(CREATE, { i: input })).createCampaign;
      const problem = userError(payload);
      if (problem) throw problem;
      announce(formStatus, "已提交，等待另一名操作员审批（四眼原则）");
      form.reset();
      count.textContent = "—";
      await refreshList();
    } catch (err) {
      announce(formStatus, err.message, "error");
    }
  });

  const listStatus = h("p", { class: "status", role: "status", "aria-live": "polite", id: "list-status" });
  const rows = h("tbody", {});
  const list = h(
    "section", { class: "card", "aria-labelledby": "list-title" },
    h("h2", { id: "list-title" }, "推送列表"),
    h("table", { id: "campaigns" },
      h("caption", { class: "visually-hidden" }, "推送列表，最新在前"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "标题"), h("th", { scope: "col" }, "状态"), h("th", { scope: "col" }, "创建时间"), h("th", { scope: "col" }, "操作"))),
      rows),
    listStatus,
  );

  const progress = h("section", { class: "card", id: "progress", "aria-labelledby": "progress-title", hidden: true });
  let watching = null;
  const STATUS_SHOWN = new Map(); // campaign id → last status seen, to refresh the list on change

  async function act(mutation, id, done) {
    try {
      const payload = Object.values(await gql(mutation, { id }))[0];
      const problem = userError(payload);
      if (problem) throw problem;
      announce(listStatus, done);
      await refreshList();
    } catch (err) {
      announce(listStatus, err.message, "error");
    }
  }

  async function refreshList() {
    const nodes = (await gql(LIST)).campaigns.nodes;
    clear(rows);
    if (!nodes.length) rows.append(h("tr", {}, h("td", { colspan: 4, class: "muted" }, "暂无推送")));
    for (const c of nodes) {
      const actions = h("div", { class: "actions" });
      if (c.status === "PENDING_APPROVAL" && !c.createdByMe) {
        actions.append(h("button", { type: "button", class: "primary", "data-action": "approve", onclick: () => act(APPROVE, c.id, `已审批：${c.title}`) }, "审批通过"));
      } else if (c.status === "PENDING_APPROVAL") {
        actions.append(h("span", { class: "muted" }, "等待另一名操作员审批"));
      }
      actions.append(h("button", { type: "button", "data-action": "progress", onclick: () => watch(c.id) }, "查看进度"));
      if (["PENDING_APPROVAL", "APPROVED", "SENDING"].includes(c.status)) {
        actions.append(h("button", { type: "button", class: "danger", "data-action": "cancel", onclick: () => act(CANCEL, c.id, `已取消：${c.title}`) }, "取消"));
      }
      rows.append(h("tr", { "data-id": c.id }, h("td", {}, c.title), h("td", {}, badge(c.status)), h("td", {}, formatTime(c.createdAt)), h("td", {}, actions)));
    }
  }

  function watch(id) {
    if (watching) clearInterval(watching.timer);
    const samples = [];
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("class", "chart");
    svg.id = "progress-chart";
    const numbers = h("div", { class: "stats", id: "progress-numbers", "aria-live": "polite" });
    const heading = h("h2", { id: "progress-title" }, "发送进度");
    clear(progress).append(heading, numbers, svg, h("p", { class: "hint" }, "每秒刷新；横轴为打开本面板后的时间。"));
    progress.hidden = false;
    const tick = async () => {
      let c;
      try {
        c = (await gql(PROGRESS, { id })).campaign;
      } catch (err) {
        announce(listStatus, err.message, "error");
        return;
      }
      heading.textContent = `发送进度：${c.title}`;
      samples.push([new Date(), c.stats]);
      clear(numbers).append(
        h("div", { class: "stat" }, h("div", { class: "label" }, "状态"), h("div", { class: "value", id: "progress-status" }, badge(c.status))),
        ...[...SERIES, ["queued", "排队中"], ["suppressed", "仅站内信"]].map(([key, label]) =>
          h("div", { class: "stat" }, h("div", { class: "label" }, label), h("div", { class: "value", "data-stat": key }, c.stats[key] ?? c.stats.band))),
      );
      if (c.stats.band) {  // a small audience: figures withheld, nothing to chart
        svg.replaceChildren();
        svg.setAttribute("aria-label", `推送“${c.title}”覆盖人数少于阈值，数据不予显示`);
      } else lineChart(svg, SERIES.map(([key, name]) => ({ name, points: samples.map(([t, s]) => [t, s[key]]) })), {
        label: `推送“${c.title}”的覆盖、已送达、失败、已打开人数随时间变化`,
      });
      if (c.status !== STATUS_SHOWN.get(id)) { STATUS_SHOWN.set(id, c.status); refreshList(); }
    };
    watching = { timer: setInterval(tick, 1000) };
    timers.push(watching.timer);
    tick();
    progress.scrollIntoView({ block: "nearest" });
  }
  clear(root).append(form, list, progress);
  gql(REGIONS).then((data) => {
    for (const r of data.regions) {
      regionBox.append(h("label", {}, h("input", { type: "checkbox", value: r.code, name: "region" }), r.name));
    }
  });
  refreshList().catch((err) => announce(listStatus, err.message, "error"));
  timers.push(setInterval(() => refreshList().catch(() => {}), 5000));
  return () => timers.forEach(clearInterval);
}
