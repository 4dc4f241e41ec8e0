// What the offline verifier needs, kept in the Cache API: the published keys, every status
// list, and the licence-type names. Fetched whenever the page is online; read when it is not.
import { importKeys } from "./sdl1.js";

const DATA = "zsb-verify-data-v1";
const KEYS = "/.well-known/sdl-keys.json";
const INDEX = "/.well-known/sdl-status-lists.json";
const TYPES = "/verify/data/licence-types.json"; // synthetic: the answer of `licenceTypes`
const STAMP = "/verify/data/updated.json";

export async function refresh() {
  const cache = await caches.open(DATA);
  const get = async (url) => {
    const response = await fetch(url, { cache: "no-store" });
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    return response;
  };
  const keys = await get(KEYS);
  const index = await get(INDEX);
  const lists = (await index.clone().json()).lists ?? [];
  const listResponses = await Promise.all(lists.map(get));
  const types = await fetch("/graphql", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query: "{ licenceTypes { tokenCode code name } }" }),
  });
  const typeList = (await types.json()).data?.licenceTypes ?? [];
  await cache.put(KEYS, keys);
  await cache.put(INDEX, index);
  await Promise.all(lists.map((url, i) => cache.put(url, listResponses[i])));
  const json = (value) => new Response(JSON.stringify(value), { headers: { "content-type": "application/json" } });
  await cache.put(TYPES, json(typeList));
  const at = new Date().toISOString();
  await cache.put(STAMP, json({ at, lists: lists.length }));
  return { at, lists: lists.length };
}

export async function lastUpdate() {
  const cache = await caches.open(DATA);
  const hit = await cache.match(STAMP);
  return hit ? hit.json() : null;
}

/** The inputs of verifyOffline from the cache; null when nothing was ever cached. */
export async function load(now) {
  const cache = await caches.open(DATA);
  const keysHit = await cache.match(KEYS);
  if (!keysHit) return null;
  const keys = await importKeys(await keysHit.json(), now);
  const typesHit = await cache.match(TYPES);
  const types = typesHit ? await typesHit.json() : [];
  const names = new Map(types.map((t) => [t.tokenCode, t.name]));
  return {
    keys,
    now,
    typeName: (lt) => names.get(lt) ?? `未知证照类型（${lt}）`,
    statusList: async (id) => {
      const hit = await cache.match(`/.well-known/sdl-status/${encodeURIComponent(id)}`);
      return hit ? hit.text() : null;
    },
  };
}
