// GraphQL over fetch, with the session kept in sessionStorage (this tab only, gone when it
// closes; never localStorage). An expired access token is refreshed once with the rotating
// refresh token; a failed refresh signs the user out.

const KEY = "zsb.session";

export class ApiError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

export function session() {
  try {
    return JSON.parse(sessionStorage.getItem(KEY) || "null");
  } catch {
    return null;
  }
}

export function saveSession(payload) {
  sessionStorage.setItem(
    KEY,
    JSON.stringify({ access: payload.accessToken, refresh: payload.refreshToken }),
  );
}

export function clearSession() {
  sessionStorage.removeItem(KEY);
}

async function post(query, variables, token) {
  const headers = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch("/graphql", {
    method: "POST",
    headers,
    body: JSON.stringify({ query, variables: variables || {} }),
    credentials: "omit",
  });
  if (response.status === 429) throw new ApiError("请求过于频繁，请稍后再试", "RATE_LIMITED");
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`服务暂时不可用 (HTTP ${response.status})`, "UNAVAILABLE");
  }
  return body;
}

const REFRESH = `mutation R($t: String!) { refreshSession(input: {refreshToken: $t}) {
  accessToken refreshToken userErrors { code message } } }`;

async function refresh() {
  const current = session();
  if (!current?.refresh) return false;
  const body = await post(REFRESH, { t: current.refresh });
  const payload = body.data?.refreshSession;
  if (!payload?.accessToken) {
    clearSession();
    return false;
  }
  saveSession(payload);
  return true;
}

/** Runs a query or mutation; returns `data` or throws ApiError with the first error's code. */
export async function gql(query, variables, { auth = true } = {}) {
  let body = await post(query, variables, auth ? session()?.access : null);
  const code = () => body.errors?.[0]?.extensions?.code;
  if (auth && code() === "UNAUTHENTICATED" && (await refresh())) {
    body = await post(query, variables, session()?.access);
  }
  if (body.errors?.length) {
    const first = body.errors[0];
    if (code() === "UNAUTHENTICATED") clearSession();
    throw new ApiError(first.message, code() || "ERROR");
  }
  return body.data;
}

/** The first userError of a mutation payload as an ApiError, or null. */
export function userError(payload) {
  const first = payload?.userErrors?.[0];
  return first ? new ApiError(first.message, first.code) : null;
}
