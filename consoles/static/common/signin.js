// Sign-in with the SMS code (the same flow as the app). In dev the code is recorded, not sent:
// `zsb dev sms --phone <phone>` shows it.
import { ApiError, gql, saveSession, session, clearSession } from "./api.js";
import { h, clear, announce } from "./dom.js";

const REQUEST = `mutation Q($p: String!) { requestLoginCode(input: {phone: $p}) {
  retryAfterSeconds userErrors { code message } } }`;
const LOGIN = `mutation L($p: String!, $c: String!) { loginWithCode(input: {phone: $p, code: $c}) {
  accessToken refreshToken user { id } userErrors { code message } } }`;
export const ME = `{ me { id roles name phone organization { code name } scenes departmentCode } }`;

export async function currentUser() {
  if (!session()) return null;
  try {
    return (await gql(ME)).me;
  } catch (err) {
    if (err instanceof ApiError && err.code === "UNAUTHENTICATED") return null;
    throw err;
  }
}

export async function signOut() {
  try {
    await gql(`mutation { logout(input: {}) { ok } }`);
  } catch {
    /* the session may be gone already */
  }
  clearSession();
}

/** Renders the form into `root`; resolves with `me` once signed in. */
export function signInForm(root, { title, hint }) {
  return new Promise((resolve) => {
    const status = h("p", { class: "status", role: "status", "aria-live": "polite" });
    const phone = h("input", {
      id: "phone", name: "phone", type: "tel", inputmode: "numeric", autocomplete: "tel",
      required: true, pattern: "1[3-9][0-9]{9}", maxlength: 11,
    });
    const code = h("input", {
      id: "code", name: "code", inputmode: "numeric", autocomplete: "one-time-code",
      pattern: "[0-9]{6}", maxlength: 6, disabled: true,
    });
    const send = h("button", { type: "button", id: "send-code" }, "获取验证码");
    const submit = h("button", { type: "submit", id: "sign-in", class: "primary", disabled: true }, "登录");
    const form = h(
      "form", { class: "card signin", "aria-labelledby": "signin-title", novalidate: true },
      h("h2", { id: "signin-title" }, title),
      h("label", { for: "phone" }, "手机号码"),
      h("div", { class: "row" }, phone, send),
      h("label", { for: "code" }, "短信验证码"),
      code,
      submit,
      status,
      h("p", { class: "hint" }, hint),
    );
    send.addEventListener("click", async () => {
      if (!/^1[3-9]\d{9}$/.test(phone.value)) {
        announce(status, "请输入正确的 11 位手机号码", "error");
        phone.focus();
        return;
      }
      send.disabled = true;
      try {
        const payload = (await gql(REQUEST, { p: phone.value }, { auth: false })).requestLoginCode;
        const problem = payload.userErrors[0];
        if (problem) throw new ApiError(problem.message, problem.code);
        code.disabled = false;
        submit.disabled = false;
        code.focus();
        announce(status, "验证码已发送，5 分钟内有效");
      } catch (err) {
        announce(status, err.message, "error");
      } finally {
        setTimeout(() => (send.disabled = false), 3000);
      }
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      submit.disabled = true;
      try {
        const payload = (await gql(LOGIN, { p: phone.value, c: code.value }, { auth: false })).loginWithCode;
        const problem = payload.userErrors[0];
        if (problem) throw new ApiError(problem.message, problem.code);
        saveSession(payload);
        resolve((await gql(ME)).me);
      } catch (err) {
        announce(status, err.message, "error");
        submit.disabled = false;
      }
    });
    clear(root).append(form);
    phone.focus();
  });
}
