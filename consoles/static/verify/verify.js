// The verifiers' page: sign in, scan a 亮证 QR (camera) or paste its text, and see the answer
// in large form. Online it asks the API (verifyLicenceQr: replay, scene and live status
// checks, a usage record for the holder); without a network it verifies in the browser with
// the cached published keys and status lists, and says so.
import { gql, session, ApiError } from "/web/api.js";
import { h, $, clear, formatTime } from "/web/dom.js";
import { currentUser, signInForm, signOut } from "/web/signin.js";
import { verifyOffline } from "/web/sdl1.js";
import * as offlineData from "/web/offline-data.js";

const VERIFY = `mutation V($text: String!, $scene: String!) {
  verifyLicenceQr(input: {text: $text, scene: $scene}) {
    result checkedAt
    licence { type { code name } holderName number idNumber validFrom validUntil issuer status disclosedFields }
    userErrors { field code message }
  }
}`;

const SCENES = {
  TRAFFIC_CHECK: "道路交通执法",
  HOTEL_CHECKIN: "旅馆住宿登记",
  PROPERTY_TRANSACTION: "房产交易两证核验",
  MARKET_INSPECTION: "市场监管执法检查",
  LEGAL_PRACTICE: "律师、司法鉴定人执业亮证",
  ELDERLY_SERVICE: "老年人优待服务",
};

const REASONS = {
  MALFORMED: "二维码格式错误，不是有效的亮证码",
  UNKNOWN_KEY: "签发密钥未知：非本平台签发，或密钥已撤销",
  INVALID_SIGNATURE: "签名校验失败：二维码可能被篡改",
  NOT_YET_VALID: "亮证码尚未生效，请核对设备时间",
  EXPIRED: "已过期：亮证码或证照已超过有效期，请持证人刷新后重新出示",
  NOT_AUTHORISED: "本机构无权在此场景核验该类证照",
  REPLAYED: "该亮证码已被其他核验方使用，请持证人重新生成",
  REVOKED: "证照已被注销",
  SUSPENDED: "证照已被暂停使用",
  UNCHECKED: "无法离线核验证照状态",
};

const FIELDS = [
  ["type", "证照类型"],
  ["holderName", "持证人"],
  ["number", "证照号码"],
  ["idNumber", "身份证号"],
  ["validFrom", "有效期起"],
  ["validUntil", "有效期至"],
  ["issuer", "发证机关"],
  ["status", "证照状态"],
];

const ME_KEY = "zsb.verifier";
const main = $("#main");
const net = $("#net");
let me = null;
let scanner = null;

let online = navigator.onLine;

// navigator.onLine only knows about the local link; a request to the service is the truth.
async function probeNetwork() {
  try {
    online = (await fetch("/healthz", { cache: "no-store" })).ok;
  } catch {
    online = false;
  }
  net.textContent = online ? "在线" : "离线";
  net.className = `badge ${online ? "ok" : "warn"}`;
  return online;
}

function renderResult(region, outcome) {
  clear(region);
  const { result, mode, fields = {}, note = "", at } = outcome;
  const valid = result === "VALID";
  const unchecked = result === "UNCHECKED" || (valid && outcome.label === "ONLINE_TOKEN_STATUS_UNCHECKED");
  const kind = unchecked ? "unchecked" : valid ? "valid" : "invalid";
  const verdict = unchecked ? "待核实" : valid ? "有效" : "无效";
  const box = h(
    "div", { class: `result ${kind}`, id: "verdict", "data-result": result },
    h("p", { class: "verdict" }, `${verdict} ${result === "UNCHECKED" ? "" : result}`.trim()),
    valid ? null : h("p", { class: "reason" }, REASONS[result] ?? result),
    note ? h("p", { class: "reason" }, note) : null,
    h(
      "p", { class: "mode", "data-mode": mode },
      mode === "offline"
        ? "离线核验：依据本机缓存的公钥与状态列表，未连接服务器"
        : `在线核验 · ${formatTime(at)}`,
    ),
  );
  const shown = FIELDS.filter(([key]) => fields[key]);
  if (shown.length) {
    box.append(h("dl", {}, shown.flatMap(([key, label]) => [h("dt", {}, label), h("dd", {}, fields[key])])));
  }
  region.append(box);
  box.focus?.();
}

async function checkOnline(text, scene) {
  const payload = (await gql(VERIFY, { text, scene })).verifyLicenceQr;
  if (payload.userErrors.length) throw new ApiError(payload.userErrors[0].message, payload.userErrors[0].code);
  const lic = payload.licence;
  const fields = lic
    ? { ...lic, type: lic.type.name, status: lic.status && ({ VALID: "有效", REVOKED: "已注销", SUSPENDED: "已暂停", EXPIRED: "已过期" }[lic.status] ?? lic.status) }
    : {};
  return { result: payload.result, mode: "online", fields, at: payload.checkedAt };
}

async function checkOffline(text) {
  const data = await offlineData.load(Math.floor(Date.now() / 1000));
  if (!data) return { result: "UNCHECKED", mode: "offline", note: "本机尚无公钥缓存：请先联网打开本页一次" };
  const outcome = await verifyOffline(text, data);
  return { ...outcome, mode: "offline" };
}

async function check(text, scene, region, status) {
  status.textContent = "核验中…";
  let outcome;
  try {
    if (!online || !session()) throw new TypeError("offline");
    outcome = await checkOnline(text, scene);
  } catch (err) {
    if (err instanceof ApiError) {
      status.textContent = err.message;
      status.dataset.kind = "error";
      return;
    }
    outcome = await checkOffline(text); // no network: the in-browser check
  }
  status.textContent = "";
  status.dataset.kind = "";
  renderResult(region, outcome);
}

function stopScanner() {
  if (!scanner) return;
  clearInterval(scanner.timer);
  scanner.stream.getTracks().forEach((t) => t.stop());
  scanner = null;
}

async function startScanner(video, canvas, onText, status) {
  stopScanner();
  if (!navigator.mediaDevices?.getUserMedia) {
    status.textContent = "此浏览器无法使用摄像头，请粘贴二维码文本";
    return;
  }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    video.srcObject = stream;
    video.hidden = false;
    await video.play();
    status.textContent = "请将亮证二维码对准摄像头";
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    scanner = {
      stream,
      timer: setInterval(() => {
        if (!video.videoWidth || typeof window.jsQR !== "function") return;
        canvas.width = video.videoWidth;
        canvas.height = video.videoHeight;
        ctx.drawImage(video, 0, 0);
        const image = ctx.getImageData(0, 0, canvas.width, canvas.height);
        const code = window.jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" });
        if (code?.data?.startsWith("SDL1:")) {
          stopScanner();
          video.srcObject = null;
          video.hidden = true;
          onText(code.data);
        }
      }, 200),
    };
  } catch (err) {
    status.textContent = `无法打开摄像头（${err.name}），请粘贴二维码文本`;
  }
}

async function updateOfflineData(line) {
  if (!online) {
    const last = await offlineData.lastUpdate();
    line.textContent = last ? `离线数据更新于 ${formatTime(last.at)}` : "本机尚无离线数据";
    return;
  }
  try {
    const stamp = await offlineData.refresh();
    if ("serviceWorker" in navigator) await navigator.serviceWorker.ready;
    line.textContent = `已可离线使用：公钥与 ${stamp.lists} 个状态列表已于 ${formatTime(stamp.at)} 更新`;
    line.className = "offline-ready";
    line.id = "offline-ready";
  } catch {
    line.textContent = "离线数据更新失败，将使用上次缓存";
  }
}

function renderChecker() {
  const scenes = me?.scenes?.length ? me.scenes : Object.keys(SCENES);
  const scene = h("select", { id: "scene", name: "scene" }, scenes.map((code) => h("option", { value: code }, SCENES[code] ?? code)));
  const text = h("textarea", { id: "qr-text", name: "qr-text", rows: 3, spellcheck: "false", autocomplete: "off", placeholder: "SDL1:…" });
  const status = h("p", { class: "status", role: "status", "aria-live": "polite", id: "check-status" });
  const region = h("section", { id: "result", "aria-live": "assertive", "aria-atomic": "true", "aria-label": "核验结果" });
  const video = h("video", { id: "camera", muted: true, playsinline: true, hidden: true, "aria-label": "摄像头画面" });
  const canvas = h("canvas", { "aria-hidden": "true" });
  const run = (value) => check(value, scene.value, region, status);
  const offlineLine = h("p", { class: "hint", id: "offline-line" }, "正在准备离线数据…");
  clear(main).append(
    h(
      "section", { class: "card", "aria-labelledby": "check-title" },
      h("h2", { id: "check-title" }, me?.organization ? `${me.organization.name} · 核验亮证` : "核验亮证"),
      h("label", { for: "scene" }, "核验场景"),
      scene,
      h(
        "div", { class: "grid2" },
        h(
          "div", { class: "scan" },
          h("button", { type: "button", id: "start-camera", class: "primary", onclick: () => startScanner(video, canvas, (t) => { text.value = t; run(t); }, status) }, "打开摄像头扫码"),
          video,
          canvas,
        ),
        h(
          "form", { id: "paste-form", onsubmit: (e) => { e.preventDefault(); if (text.value.trim()) run(text.value.trim()); } },
          h("label", { for: "qr-text" }, "或粘贴二维码文本"),
          text,
          h("button", { type: "submit", id: "check", class: "primary" }, "核验"),
        ),
      ),
      status,
      offlineLine,
    ),
    region,
  );
  updateOfflineData(offlineLine);
}

async function start() {
  await probeNetwork();
  addEventListener("online", probeNetwork);
  addEventListener("offline", probeNetwork);
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/verify/sw.js", { scope: "/verify/" }).catch(() => {});
  }
  try {
    me = await currentUser();
  } catch {
    // Offline: the in-browser check still works; show who signed in on this tab, if anyone.
    me = session() ? JSON.parse(sessionStorage.getItem(ME_KEY) || "null") : null;
  }
  if (!me && online) {
    me = await signInForm(main, {
      title: "核验人员登录",
      hint: "使用核验账号的手机号登录。开发环境中验证码不发短信，用 zsb dev sms --phone 手机号 查看。",
    });
  }
  if (me) sessionStorage.setItem(ME_KEY, JSON.stringify(me)); // masked data, this tab only
  const who = $("#who");
  who.textContent = me ? `${me.organization?.name ?? ""} ${me.name ?? me.phone}` : "未登录（仅离线核验）";
  const out = $("#sign-out");
  out.hidden = !me;
  out.onclick = async () => {
    stopScanner();
    await signOut();
    sessionStorage.removeItem(ME_KEY);
    location.reload();
  };
  renderChecker();
}

start();
