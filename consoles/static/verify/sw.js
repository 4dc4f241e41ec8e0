// The verifier page's service worker: keeps the page's own files so that it opens without a
// network after one visit. Network first (a new release is picked up at once), the cached copy
// when the network is gone. The keys and status lists are cached by the page itself.
const SHELL = "zsb-verify-shell-v1";
const FILES = [
  "/verify/",
  "/verify/verify.js",
  "/verify/verify.css",
  "/web/base.css",
  "/web/api.js",
  "/web/dom.js",
  "/web/signin.js",
  "/web/sdl1.js",
  "/web/offline-data.js",
  "/web/vendor/jsQR.js",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL).then((cache) => cache.addAll(FILES)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(self.clients.claim());
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  const key = url.pathname === "/verify/index.html" ? "/verify/" : url.pathname;
  if (!FILES.includes(key)) return;
  event.respondWith(
    (async () => {
      const cache = await caches.open(SHELL);
      try {
        const fresh = await fetch(event.request);
        if (fresh.ok) await cache.put(key, fresh.clone());
        return fresh;
      } catch (err) {
        const cached = await cache.match(key);
        if (cached) return cached;
        throw err;
      }
    })(),
  );
});
