/* Recoop collector service worker: the page and the last round open without network.
 *
 * The shell (page, script, styles, Leaflet) is cached at install. The page and the
 * round JSON are network first (with a short wait, then the cached copy); static
 * files are served from the cache and refreshed behind. Writes (POST) are never
 * touched here: the page queues them itself. Map tiles go straight to the network.
 */
"use strict";

var CACHE = "recoop-collector-v1";
var SHELL = [
  "/collector",
  "/static/collector/app.js",
  "/static/collector/app.css",
  "/static/vendor/leaflet.js",
  "/static/vendor/leaflet.css"
];

function usable(res) {
  return res && res.ok && res.type === "basic" && !res.redirected;
}

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return Promise.all(SHELL.map(function (url) {
      return fetch(url, { credentials: "same-origin" }).then(function (res) {
        if (usable(res)) return cache.put(url, res);
      }).catch(function () { /* cached on a later visit */ });
    }));
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) {
      return k.indexOf("recoop-collector") === 0 && k !== CACHE;
    }).map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});

/* A cached copy, marked so the page knows it is not fresh (its server_time is old). */
function marked(hit) {
  var headers = new Headers(hit.headers);
  headers.set("X-Recoop-Cached", "1");
  return new Response(hit.body, { status: hit.status, statusText: hit.statusText, headers: headers });
}

/* The network's answer, or after `wait` ms (or a failure) the cached copy. */
function networkFirst(request, key, wait) {
  return caches.open(CACHE).then(function (cache) {
    var network = fetch(request).then(function (res) {
      if (usable(res)) cache.put(key, res.clone());
      if (res.status >= 500) throw new Error("server error " + res.status);
      return res;
    });
    var cached = function () {
      return cache.match(key).then(function (hit) { return hit ? marked(hit) : null; });
    };
    var timer = new Promise(function (resolve) { setTimeout(resolve, wait); })
      .then(cached).then(function (hit) { return hit || network; });
    return Promise.race([network, timer]).catch(function () {
      return cached().then(function (hit) { return hit || Response.error(); });
    });
  });
}

function cacheFirst(request, key) {
  return caches.open(CACHE).then(function (cache) {
    return cache.match(key).then(function (hit) {
      var network = fetch(request).then(function (res) {
        if (usable(res)) cache.put(key, res.clone());
        return res;
      });
      if (!hit) return network;
      network.catch(function () { /* offline: the cached copy is fine */ });
      return hit;
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  var path = url.pathname;
  if (path === "/collector" && request.mode === "navigate") {
    event.respondWith(networkFirst(request, "/collector", 4000));
  } else if (path === "/collector/api/round" || path.indexOf("/collector/api/rounds/") === 0) {
    event.respondWith(networkFirst(request, path, 6000));
  } else if (SHELL.indexOf(path) > 0 || path.indexOf("/static/vendor/images/") === 0) {
    event.respondWith(cacheFirst(request, path));
  }
});
