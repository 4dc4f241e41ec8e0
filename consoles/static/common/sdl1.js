// An SDL1 verifier in the browser (spec sdl1-qr.md §6 offline: checks 1–4 and the status bit),
// using only the published keys and status lists. Base45 (RFC 9285), a minimal CBOR decoder
// for what the spec uses (no indefinite lengths), zlib through DecompressionStream and
// ECDSA P-256 through WebCrypto. Every malformed input ends in {result: "MALFORMED"}.

const B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
const MAX_TEXT = 1000;
const MAX_STATUS_TEXT = 2_000_000;
const MAX_INFLATED = 4_000_000;
const SKEW = 30;
const MAX_LIFETIME = 300;

class Malformed extends Error {}

export function base45Decode(text) {
  const values = [];
  for (const ch of text) {
    const v = B45.indexOf(ch);
    if (v < 0) throw new Malformed("base45 alphabet");
    values.push(v);
  }
  if (values.length % 3 === 1) throw new Malformed("base45 length");
  const out = [];
  for (let i = 0; i < values.length; i += 3) {
    if (i + 2 < values.length) {
      const n = values[i] + values[i + 1] * 45 + values[i + 2] * 2025;
      if (n > 0xffff) throw new Malformed("base45 chunk");
      out.push(n >> 8, n & 0xff);
    } else {
      const n = values[i] + values[i + 1] * 45;
      if (n > 0xff) throw new Malformed("base45 chunk");
      out.push(n);
    }
  }
  return new Uint8Array(out);
}

/** CBOR → JS: maps become Map, byte strings Uint8Array, tags {tag, value}. */
export function cborDecode(bytes) {
  let at = 0;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const need = (n) => {
    if (at + n > bytes.length) throw new Malformed("cbor truncated");
  };
  const arg = (info) => {
    if (info < 24) return info;
    const size = { 24: 1, 25: 2, 26: 4, 27: 8 }[info];
    if (!size) throw new Malformed("cbor length");
    need(size);
    let v;
    if (size === 1) v = view.getUint8(at);
    else if (size === 2) v = view.getUint16(at);
    else if (size === 4) v = view.getUint32(at);
    else {
      const big = view.getBigUint64(at);
      if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new Malformed("cbor integer too large");
      v = Number(big);
    }
    at += size;
    return v;
  };
  const item = (depth) => {
    if (depth > 16) throw new Malformed("cbor too deep");
    need(1);
    const first = bytes[at++];
    const major = first >> 5;
    const info = first & 0x1f;
    if (major === 7) {
      if (info === 20) return false;
      if (info === 21) return true;
      if (info === 22) return null;
      if (info === 23) return undefined;
      if (info === 26) { need(4); const f = view.getFloat32(at); at += 4; return f; }
      if (info === 27) { need(8); const f = view.getFloat64(at); at += 8; return f; }
      throw new Malformed("cbor simple value");
    }
    const n = arg(info);
    switch (major) {
      case 0: return n;
      case 1: return -1 - n;
      case 2: { need(n); const b = bytes.subarray(at, at + n); at += n; return b; }
      case 3: {
        need(n);
        const t = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(at, at + n));
        at += n;
        return t;
      }
      case 4: {
        if (n > 10000) throw new Malformed("cbor array too long");
        const list = [];
        for (let i = 0; i < n; i++) list.push(item(depth + 1));
        return list;
      }
      case 5: {
        if (n > 10000) throw new Malformed("cbor map too long");
        const map = new Map();
        for (let i = 0; i < n; i++) {
          const key = item(depth + 1);
          if (map.has(key)) throw new Malformed("cbor duplicate key");
          map.set(key, item(depth + 1));
        }
        return map;
      }
      case 6: return { tag: n, value: item(depth + 1) };
      default: throw new Malformed("cbor major type");
    }
  };
  let value;
  try {
    value = item(0);
  } catch (err) {
    if (err instanceof Malformed) throw err;
    throw new Malformed(`cbor: ${err.message}`);
  }
  if (at !== bytes.length) throw new Malformed("cbor trailing bytes");
  return value;
}

async function inflate(bytes, limit) {
  try {
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
    const reader = stream.getReader();
    const parts = [];
    let total = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > limit) throw new Malformed("zlib too large");
      parts.push(value);
    }
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  } catch (err) {
    if (err instanceof Malformed) throw err;
    throw new Malformed("zlib corrupt");
  }
}

// CBOR heads for the Sig_structure (RFC 9052 §4.4): the one thing this verifier encodes.
function head(major, length) {
  const m = major << 5;
  if (length < 24) return [m | length];
  if (length < 0x100) return [m | 24, length];
  if (length < 0x10000) return [m | 25, length >> 8, length & 0xff];
  return [m | 26, (length >>> 24) & 0xff, (length >> 16) & 0xff, (length >> 8) & 0xff, length & 0xff];
}

function sigStructure(protectedBytes, payload) {
  const context = new TextEncoder().encode("Signature1");
  const parts = [
    head(4, 4), head(3, context.length), context,
    head(2, protectedBytes.length), protectedBytes,
    head(2, 0),
    head(2, payload.length), payload,
  ];
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

async function decodeSign1(text, prefix, maxText) {
  if (typeof text !== "string" || !text.startsWith(prefix)) throw new Malformed("prefix");
  if (text.length > maxText) throw new Malformed("too long");
  let raw = base45Decode(text.slice(prefix.length));
  if (raw[0] === 0x78) raw = await inflate(raw, MAX_INFLATED);
  else if (raw[0] !== 0xd2) throw new Malformed("neither COSE nor zlib");
  const cose = cborDecode(raw);
  if (cose?.tag !== 18 || !Array.isArray(cose.value) || cose.value.length !== 4) {
    throw new Malformed("not COSE_Sign1");
  }
  const [protectedBytes, unprotected, payload, signature] = cose.value;
  if (!(protectedBytes instanceof Uint8Array) || !(unprotected instanceof Map)) throw new Malformed("cose headers");
  if (!(payload instanceof Uint8Array) || !(signature instanceof Uint8Array)) throw new Malformed("cose body");
  const header = cborDecode(protectedBytes);
  if (!(header instanceof Map)) throw new Malformed("protected header");
  const kid = header.get(4);
  if (!(kid instanceof Uint8Array) || kid.length !== 8) throw new Malformed("kid");
  return { alg: header.get(1), kid, payload, signature, signed: sigStructure(protectedBytes, payload) };
}

const b64url = (bytes) =>
  btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

/** kid (base64url) → CryptoKey, for the current ES256 keys whose kid matches their key. */
export async function importKeys(document, now) {
  const keys = new Map();
  for (const entry of document?.keys ?? []) {
    if (entry.alg !== "ES256" || entry.crv !== "P-256") continue; // no SM2 in WebCrypto
    if (entry.exp !== undefined && entry.exp <= now) continue;
    try {
      const jwk = { kty: "EC", crv: "P-256", x: entry.x, y: entry.y, ext: true };
      const key = await crypto.subtle.importKey("jwk", jwk, { name: "ECDSA", namedCurve: "P-256" }, true, ["verify"]);
      const spki = new Uint8Array(await crypto.subtle.exportKey("spki", key));
      const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", spki));
      if (b64url(digest.subarray(0, 8)) !== entry.kid) continue; // a kid that lies is not trusted
      keys.set(entry.kid, key);
    } catch {
      /* an unusable entry is skipped, like any unknown key */
    }
  }
  return keys;
}

async function signatureOk(sign1, keys) {
  const key = keys.get(b64url(sign1.kid));
  if (!key || sign1.alg !== -7) return null;
  if (sign1.signature.length !== 64) return false;
  return crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, sign1.signature, sign1.signed);
}

function claimsOf(payload) {
  const map = cborDecode(payload);
  if (!(map instanceof Map)) throw new Malformed("claims");
  const c = {
    iss: map.get(1), iat: map.get(6), exp: map.get(4), cti: map.get(7), lt: map.get(-70010),
    ref: map.get(-70011), nm: map.get(-70012), idn: map.get(-70013), no: map.get(-70014),
    vu: map.get(-70015), si: map.get(-70016), sl: map.get(-70017),
  };
  const int = (v) => Number.isInteger(v) && v >= 0;
  if (typeof c.iss !== "string" || typeof c.lt !== "string" || !int(c.iat) || !int(c.exp)) throw new Malformed("claims");
  if (!(c.exp - c.iat > 0 && c.exp - c.iat <= MAX_LIFETIME)) throw new Malformed("lifetime");
  c.online = c.ref instanceof Uint8Array;
  if (!c.online && (typeof c.sl !== "string" || !int(c.si))) throw new Malformed("offline claims");
  return c;
}

/** The status list text (SDLS1:) checked against the keys: {exp, entries: Uint8Array}. */
export async function readStatusList(text, keys, now) {
  const sign1 = await decodeSign1(text, "SDLS1:", MAX_STATUS_TEXT);
  if ((await signatureOk(sign1, keys)) !== true) throw new Error("状态列表签名无法验证");
  const map = cborDecode(sign1.payload);
  const exp = map.get(4);
  if (map.get(-70020) !== 2 || !(map.get(-70021) instanceof Uint8Array)) throw new Malformed("status list");
  if (!Number.isInteger(exp) || exp < now) throw new Error("状态列表已过期，请联网更新");
  return { exp, entries: await inflate(map.get(-70021), MAX_INFLATED) };
}

function statusAt(entries, index) {
  const byte = index >> 2;
  if (byte >= entries.length) return 3;
  return (entries[byte] >> ((index & 3) * 2)) & 3;
}

/**
 * Offline verification. `keys` from importKeys; `statusList(id)` returns the cached list text
 * (or null); `typeName(lt)` names the licence type. Returns {result, label, fields, note}.
 */
export async function verifyOffline(text, { keys, statusList, typeName, now = Math.floor(Date.now() / 1000) }) {
  const out = (result, extra = {}) => ({ result, label: "OFFLINE", fields: {}, note: "", ...extra });
  let sign1, claims;
  try {
    sign1 = await decodeSign1(text.trim(), "SDL1:", MAX_TEXT);
    claims = claimsOf(sign1.payload);
  } catch (err) {
    if (err instanceof Malformed) return out("MALFORMED");
    throw err;
  }
  const ok = await signatureOk(sign1, keys);
  if (ok === null) return out("UNKNOWN_KEY");
  if (!ok) return out("INVALID_SIGNATURE");
  if (claims.iat > now + SKEW) return out("NOT_YET_VALID");
  if (claims.exp < now - SKEW) return out("EXPIRED");
  const type = typeName(claims.lt);
  if (claims.online) {
    return out("VALID", {
      label: "ONLINE_TOKEN_STATUS_UNCHECKED",
      fields: { type },
      note: "签名与时效有效；在线码的证照实时状态须联网核验",
    });
  }
  const listText = await statusList(claims.sl);
  if (!listText) return out("UNCHECKED", { fields: { type }, note: "缺少该证照的状态列表，请联网后再核验" });
  let list;
  try {
    list = await readStatusList(listText, keys, now);
  } catch (err) {
    return out("UNCHECKED", { fields: { type }, note: err.message });
  }
  const status = statusAt(list.entries, claims.si);
  if (status === 1) return out("REVOKED");
  if (status === 2) return out("SUSPENDED");
  if (status === 3) return out("MALFORMED", { note: "状态列表中为保留值" });
  const china = new Date((now + 8 * 3600) * 1000);
  const today = china.getUTCFullYear() * 10000 + (china.getUTCMonth() + 1) * 100 + china.getUTCDate();
  if (Number.isInteger(claims.vu) && claims.vu < today) return out("EXPIRED", { note: "证照已过有效期" });
  const vu = Number.isInteger(claims.vu) ? String(claims.vu).replace(/(\d{4})(\d{2})(\d{2})/, "$1-$2-$3") : null;
  return out("VALID", { fields: { type, holderName: claims.nm, idNumber: claims.idn, number: claims.no, validUntil: vu } });
}
