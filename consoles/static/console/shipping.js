// 待邮寄: approved cases whose paper result is to be posted; the clerk records the courier and
// waybill number (recordShipment), and the applicant is told. Addresses arrive masked; 打印面单
// fetches the full address of one case (shippingLabel: audited, budgeted) for its waybill, shown
// in the label panel (the only thing printed) until closed.
import { gql, userError } from "/web/api.js";
import { h, clear, announce, formatTime } from "/web/dom.js";

const QUEUE = `{ shippingQueue(first: 100) { nodes { id receiptNumber matterName finishedAt
  result { name delivery { address { recipientName phone region line } } } } } }`;
const SHIP = `mutation S($i: RecordShipmentInput!) { recordShipment(input: $i) {
  application { id } userErrors { field code message } } }`;
const LABEL = `query L($id: ID!) { shippingLabel(applicationId: $id) {
  receiptNumber matterName resultName recipientName phone region line } }`;
const CARRIERS = [
  ["EMS", "EMS（政务专递）"], ["SF", "顺丰速运"], ["JD", "京东物流"], ["ZTO", "中通快递"],
  ["YTO", "圆通速递"], ["STO", "申通快递"], ["YUNDA", "韵达快递"],
];

export function shippingView(root) {
  const status = h("p", { class: "status", role: "status", "aria-live": "polite", id: "shipping-status" });
  const rows = h("tbody", {});
  const panel = h("section", { id: "shipping-label", class: "card print-label", "aria-label": "面单", hidden: true });

  function closeLabel() {
    clear(panel).hidden = true; // the full address leaves the page with the panel
  }

  async function showLabel(app) {
    const who = app.receiptNumber ?? app.id;
    try {
      const label = (await gql(LABEL, { id: app.id })).shippingLabel;
      const line = (name, value) => h("p", {}, h("strong", {}, `${name}：`), value ?? "—");
      clear(panel).append(
        h("h3", {}, `邮寄面单 ${label.receiptNumber}`),
        line("收件人", label.recipientName),
        line("电话", label.phone),
        line("地区代码", label.region),
        line("详细地址", label.line),
        line("寄件内容", `${label.matterName} ${label.resultName ?? ""}`.trim()),
        h("p", { class: "no-print" },
          h("button", { type: "button", class: "primary", onclick: () => window.print() }, "打印"),
          " ",
          h("button", { type: "button", onclick: closeLabel }, "关闭")));
      panel.hidden = false;
      announce(status, `已取得面单 ${who}（本次查看已记录）`);
    } catch (err) {
      announce(status, err.message, "error");
    }
  }
  clear(root).append(
    h("section", { class: "card", "aria-labelledby": "shipping-title" },
      h("h2", { id: "shipping-title" }, "待邮寄（办理结果邮寄送达）"),
      h("table", { id: "shipping" },
        h("caption", { class: "visually-hidden" }, "已批准、申请人选择邮寄且尚未寄出的办件，等待最久的在前"),
        h("thead", {}, h("tr", {}, ...["办件编号", "事项 / 结果", "收件信息（已脱敏）", "批准时间", "登记寄出"].map((t) => h("th", { scope: "col" }, t)))),
        rows),
      status),
    panel);

  function shipForm(app) {
    const who = app.receiptNumber ?? app.id;
    const carrier = h("select", { id: `carrier-${who}` }, CARRIERS.map(([code, name]) => h("option", { value: code }, name)));
    const number = h("input", { id: `waybill-${who}`, required: true, autocomplete: "off", size: 16, placeholder: "运单号" });
    const form = h("form", { class: "ship" },
      h("label", { for: `carrier-${who}`, class: "visually-hidden" }, `快递公司：${who}`), carrier,
      h("label", { for: `waybill-${who}`, class: "visually-hidden" }, `运单号：${who}`), number,
      h("button", { type: "submit", class: "primary" }, "登记寄出"));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        const input = { applicationId: app.id, carrier: carrier.value, trackingNumber: number.value };
        const payload = (await gql(SHIP, { i: input })).recordShipment;
        const problem = userError(payload);
        if (problem) throw problem;
        announce(status, `已登记寄出 ${who}`);
        await load();
      } catch (err) {
        announce(status, err.message, "error");
      }
    });
    return form;
  }

  async function load() {
    let nodes;
    try {
      nodes = (await gql(QUEUE)).shippingQueue.nodes;
    } catch (err) {
      announce(status, err.message, "error");
      return;
    }
    clear(rows);
    if (!nodes.length) rows.append(h("tr", {}, h("td", { colspan: 5, class: "muted" }, "没有待邮寄的办件")));
    for (const app of nodes) {
      const a = app.result?.delivery?.address ?? {};
      rows.append(h("tr", { "data-id": app.id },
        h("td", {}, app.receiptNumber ?? "—"),
        h("td", {}, app.matterName, h("div", { class: "muted" }, app.result?.name ?? "")),
        h("td", {}, `${a.recipientName ?? ""} ${a.phone ?? ""}`, h("div", { class: "muted" }, `${a.region ?? ""} ${a.line ?? ""}`)),
        h("td", {}, formatTime(app.finishedAt)),
        h("td", {},
          h("button", { type: "button", class: "no-print", onclick: () => showLabel(app),
            "aria-label": `打印面单：${app.receiptNumber ?? app.id}` }, "打印面单"),
          shipForm(app))));
    }
  }

  load();
  const timer = setInterval(load, 30000);
  return () => clearInterval(timer);
}
