// 事项目录指标: the catalogue KPIs the policy documents count, as bar charts with the numbers.
import { gql } from "/web/api.js";
import { h, clear } from "/web/dom.js";
import { barChart } from "/web/chart.js";

const STATS = `{ catalogueStats { publishedMatters onlineCapable onlineCapableShare zeroVisit
  zeroVisitShare appAvailable catalogueVersion byServiceMode { value count }
  byTongbanScope { value count } } hotMatters(first: 8) { code name popularity } }`;

const pct = (x) => `${(x * 100).toFixed(1)}%`;

function chartCard(id, title, items, options = {}) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("class", "chart");
  svg.id = id;
  barChart(svg, items, { label: `${title}：${items.map((i) => `${i.label} ${i.display ?? i.value}`).join("，")}`, ...options });
  return h("section", { class: "card", "aria-labelledby": `${id}-title` }, h("h2", { id: `${id}-title` }, title), svg);
}

export function kpisView(root) {
  const status = h("p", { class: "status", role: "status", "aria-live": "polite" }, "加载中…");
  clear(root).append(status);
  gql(STATS).then(({ catalogueStats: s, hotMatters }) => {
    const stat = (label, value, id) => h("div", { class: "stat" }, h("div", { class: "label" }, label), h("div", { class: "value", id }, value));
    clear(root).append(
      h("section", { class: "card", "aria-labelledby": "kpi-title" },
        h("h2", { id: "kpi-title" }, `事项目录指标（目录版本 ${s.catalogueVersion}）`),
        h("div", { class: "stats" },
          stat("上线事项", s.publishedMatters, "kpi-published"),
          stat("网上可办", s.onlineCapable, "kpi-online"),
          stat("网上可办率", pct(s.onlineCapableShare), "kpi-online-share"),
          stat("零跑腿事项", s.zeroVisit, "kpi-zero"),
          stat("零跑腿率", pct(s.zeroVisitShare), "kpi-zero-share"),
          stat("掌上可办", s.appAvailable, "kpi-app"))),
      h("div", { class: "grid2" },
        chartCard("kpi-shares", "办理深度", [
          { label: "网上可办率", value: s.onlineCapableShare, display: pct(s.onlineCapableShare) },
          { label: "零跑腿率", value: s.zeroVisitShare, display: pct(s.zeroVisitShare) },
          { label: "掌上可办率", value: s.publishedMatters ? s.appAvailable / s.publishedMatters : 0, display: pct(s.publishedMatters ? s.appAvailable / s.publishedMatters : 0) },
        ], { max: 1 }),
        chartCard("kpi-modes", "按服务方式", s.byServiceMode.map((x) => ({ label: x.value, value: x.count })))),
      h("div", { class: "grid2" },
        chartCard("kpi-scope", "按通办范围", s.byTongbanScope.map((x) => ({ label: x.value, value: x.count }))),
        chartCard("kpi-hot", "热门事项（办件量）", hotMatters.map((m) => ({ label: m.name.length > 10 ? `${m.name.slice(0, 10)}…` : m.name, value: m.popularity })))),
    );
  }).catch((err) => { status.textContent = err.message; status.dataset.kind = "error"; });
}
