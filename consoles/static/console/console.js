// The desk console: operators (政策推送), clerks (办件队列), admins and operators (目录指标).
// One page, a tab per job the signed-in account's roles allow.
import { $, h, clear } from "/web/dom.js";
import { currentUser, signInForm, signOut } from "/web/signin.js";
import { campaignsView } from "./campaigns.js";
import { queueView } from "./queue.js";
import { shippingView } from "./shipping.js";
import { kpisView } from "./kpis.js";

const VIEWS = [
  { id: "campaigns", label: "政策推送", roles: ["OPERATOR"], render: campaignsView },
  { id: "queue", label: "办件队列", roles: ["CLERK"], render: queueView },
  { id: "shipping", label: "待邮寄", roles: ["CLERK"], render: shippingView },
  { id: "kpis", label: "事项目录指标", roles: ["ADMIN", "OPERATOR"], render: kpisView },
];
const ROLE_NAMES = { OPERATOR: "操作员", CLERK: "窗口人员", ADMIN: "管理员", VERIFIER: "核验人员", CITIZEN: "市民" };

const main = $("#main");
let stopCurrent = null;

function show(views, id) {
  const view = views.find((v) => v.id === id) ?? views[0];
  stopCurrent?.();
  const nav = h(
    "nav", { class: "tabs", "aria-label": "功能" },
    views.map((v) =>
      h("button", { type: "button", id: `tab-${v.id}`, "aria-current": v === view ? "page" : false, onclick: () => { location.hash = v.id; } }, v.label),
    ),
  );
  const body = h("div", { id: `view-${view.id}` });
  clear(main).append(nav, body);
  stopCurrent = view.render(body) ?? null;
}

async function start() {
  let me = await currentUser();
  if (!me) {
    me = await signInForm(main, {
      title: "工作人员登录",
      hint: "操作员、窗口人员、管理员使用工作手机号登录。开发环境中验证码不发短信，用 zsb dev sms --phone 手机号 查看。",
    });
  }
  $("#who").textContent = `${me.name ?? me.phone}（${me.roles.map((r) => ROLE_NAMES[r] ?? r).join("、")}）`;
  const out = $("#sign-out");
  out.hidden = false;
  out.onclick = async () => { stopCurrent?.(); await signOut(); location.hash = ""; location.reload(); };
  const views = VIEWS.filter((v) => v.roles.some((r) => me.roles.includes(r)));
  if (!views.length) {
    clear(main).append(h("p", { class: "card", role: "alert" }, "此账号没有控制台权限（需要操作员、窗口人员或管理员角色）。"));
    return;
  }
  const route = () => show(views, location.hash.slice(1));
  addEventListener("hashchange", route);
  route();
}

start();
