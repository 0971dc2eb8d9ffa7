/* Recoop collector page: today's round, a numbered map, and an offline queue.
 *
 * Every weighing, miss and GPS pin is put in a queue in localStorage first, with an
 * idempotency key made on the phone when the form is submitted. A sync loop sends
 * the queue in order whenever the network is there; an item leaves the queue only
 * after the server's 2xx, or a definitive 4xx which is shown as a problem. Sending
 * the same item twice (a lost answer, a second tab) is safe: the key is the same.
 */
(function () {
  "use strict";
  var main = document.getElementById("main");
  if (!main || !main.dataset.collector) return;

  var csrf = main.dataset.csrf;
  var me = main.dataset.collector;
  var askedRound = main.dataset.round;
  var tiles = main.dataset.tiles;
  var reasons = JSON.parse(main.dataset.reasons || "[]");
  var QUEUE = "recoop.queue." + me;
  var ROUND = "recoop.round." + me;
  var FAILED = "recoop.failed." + me;
  var STATUS = {
    todo: "To do", done: "Weighed", missed: "Missed", queued: "Saved, waiting to send",
    cancelled: "Cancelled by household", moved: "Moved to another bike"
  };

  var data = null;
  var stale = false; // showing a copy kept on the phone, not the server's answer
  var shown = "";
  var skew = 0; // server clock minus phone clock (ms): weighings carry server time
  var queue = read(QUEUE, []);
  var failed = read(FAILED, []);
  var syncing = false;
  var sent = 0;
  var map = null;
  var layer = null;
  var tileErrors = 0;

  function $(id) { return document.getElementById(id); }

  function read(key, fallback) {
    try {
      var value = JSON.parse(localStorage.getItem(key));
      return value == null ? fallback : value;
    } catch (e) {
      return fallback;
    }
  }

  function write(key, value) {
    try { localStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* full */ }
  }

  /* el("p", {class: "x", text: "hi", onclick: f}, child, ...) */
  function el(tag, attrs) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v == null || v === false) return;
      if (k === "text") node.textContent = v;
      else if (k.slice(0, 2) === "on") node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    });
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c != null) node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    }
    return node;
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64;
    b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) {
      return (x + 256).toString(16).slice(1);
    }).join("");
    return [h.slice(0, 8), h.slice(8, 12), h.slice(12, 16), h.slice(16, 20), h.slice(20)].join("-");
  }

  function kgText(kg) { return (Math.round(kg * 10) / 10).toString(); }

  function dayName(iso) {
    var d = new Date(iso + "T12:00:00");
    return isNaN(d) ? iso : d.toLocaleDateString("en-GB", { weekday: "long", day: "numeric", month: "long" });
  }

  function hhmm(ms) {
    var d = new Date(ms);
    return ("0" + d.getHours()).slice(-2) + ":" + ("0" + d.getMinutes()).slice(-2);
  }

  // --- the round -------------------------------------------------------------------

  function loadRound() {
    var url = askedRound ? "/collector/api/rounds/" + askedRound : "/collector/api/round";
    return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (res) {
        if (res.status === 401) {
          location.href = "/collector/login";
          return null;
        }
        return res.json().then(function (body) {
          if (res.headers.get("X-Recoop-Cached")) {
            // The service worker's copy: prefer the phone's own, which knows its age.
            var saved = read(ROUND, null);
            show(saved || body, false);
            return null;
          }
          if (askedRound && (!res.ok || (body.round && body.round.status !== "planned"))) {
            askedRound = "";
            problem("That round link is out of date: showing today's round.");
            return loadRound();
          }
          if (!res.ok) throw new Error(body.error ? body.error.message : "HTTP " + res.status);
          body.saved_at = Date.now();
          body.skew = Date.parse(body.server_time) - Date.now();
          write(ROUND, body);
          net(true);
          show(body, true);
          return body;
        });
      })
      .catch(function () {
        var saved = read(ROUND, null);
        if (saved) show(saved, false);
        else $("summary").textContent = "No network, and no round saved on this phone yet.";
      });
  }

  function show(body, fresh) {
    data = body;
    stale = !fresh;
    skew = body.skew || 0;
    var r = body.round;
    var stamp = fresh ? "" : " · saved" + (body.saved_at ? " at " + hhmm(body.saved_at) : "");
    if (!r) {
      $("title").textContent = "No round today";
      $("summary").textContent = "Nothing is planned for your bike on " + body.today + "." + stamp;
      $("stops").textContent = "";
      drawMap();
      return;
    }
    var text = JSON.stringify(r);
    if (text === shown && fresh) return summary(stamp); // keep half-typed forms
    shown = text;
    $("title").textContent = (r.day === body.today ? "Today's round, " : "Round for ") + dayName(r.day);
    summary(stamp);
    var list = $("stops");
    list.textContent = "";
    r.stops.forEach(function (stop) { list.appendChild(stopCard(stop)); });
    drawMap();
  }

  function summary(stamp) {
    var r = data.round;
    var done = r.stops.filter(function (s) { return s.status === "done"; }).length;
    $("summary").textContent = r.bike + " from " + r.hub.name + " · " + r.start + "–" + r.end +
      " · " + r.distance_km + " km · " + done + " of " + r.stops.length + " weighed" + (stamp || "");
  }

  function stateOf(stop) {
    var mine = queue.filter(function (i) { return i.code === stop.pickup_code; });
    if (mine.some(function (i) { return i.kind !== "pin"; })) return "queued";
    return stop.status;
  }

  function stopCard(stop) {
    var code = stop.pickup_code;
    var state = stateOf(stop);
    var badge = STATUS[state] || state;
    if (state === "done" && stop.weighed_kg != null) badge += " " + kgText(stop.weighed_kg) + " kg";
    if (state === "missed" && stop.missed_reason) badge += ": " + stop.missed_reason;
    var li = el("li", { id: "stop-" + code, class: "stop s-" + state },
      el("div", { class: "head" },
        el("span", { class: "num", "aria-hidden": "true", text: String(stop.seq) }),
        el("h3", null, el("span", { class: "vh", text: "Stop " + stop.seq + ": " }), stop.name + " ",
          el("span", { class: "code", text: code }))),
      el("p", { class: "badge-line" }, el("span", { class: "badge", text: badge })),
      el("p", { text: stop.landmark }),
      el("p", { class: "note", text: stop.window.start + "–" + stop.window.end +
        " · about " + kgText(stop.expected_kg) + " kg" }));
    var links = el("div", { class: "links" });
    if (stop.phone) {
      links.appendChild(el("a", { class: "btn", href: "tel:" + stop.phone, text: "Call" }));
      links.appendChild(el("a", { class: "btn", href: "sms:" + stop.phone, text: "Text" }));
    }
    if (stop.lat != null && stop.lon != null) {
      var at = stop.lat + "," + stop.lon;
      links.appendChild(el("a", { class: "btn", href: "geo:" + at + "?q=" + at, text: "Navigate" }));
    }
    if (links.childNodes.length) li.appendChild(links);
    if (state === "todo" || state === "missed") {
      li.appendChild(el("details", { class: "weigh-box", open: stop.pickup_code === nextCode() },
        el("summary", { text: "Weigh" }), weighForm(stop)));
      li.appendChild(missForm(stop));
    }
    if (state !== "moved" && state !== "cancelled") {
      li.appendChild(el("button", { type: "button", class: "secondary pin", onclick: function () { pin(stop); } },
        "Pin this home here (GPS)"));
    }
    li.appendChild(el("p", { class: "say", role: "status", "aria-live": "polite" }));
    return li;
  }

  function nextCode() {
    var stops = data && data.round ? data.round.stops : [];
    for (var i = 0; i < stops.length; i++) if (stateOf(stops[i]) === "todo") return stops[i].pickup_code;
    return null;
  }

  function openNext() {
    var code = nextCode();
    var box = code && document.querySelector("#stop-" + code + " .weigh-box");
    if (box) box.open = true;
  }

  function say(code, text, bad) {
    var box = document.querySelector("#stop-" + code + " .say");
    if (box) {
      box.textContent = text;
      box.className = "say" + (bad ? " err" : "");
    }
  }

  function redraw(stop) {
    var old = $("stop-" + stop.pickup_code);
    if (old) old.parentNode.replaceChild(stopCard(stop), old);
  }

  function findStop(code) {
    var stops = data && data.round ? data.round.stops : [];
    for (var i = 0; i < stops.length; i++) if (stops[i].pickup_code === code) return stops[i];
    return null;
  }

  // --- forms -----------------------------------------------------------------------

  function materialRow(stop, n) {
    var id = stop.pickup_code + "-" + n;
    var select = el("select", { id: "m-" + id, name: "material" });
    (data.materials || []).forEach(function (m) {
      select.appendChild(el("option", { value: m.code, text: m.name }));
    });
    return el("div", { class: "row" },
      el("div", null, el("label", { for: "m-" + id, text: "Material" }), select),
      el("div", null, el("label", { for: "kg-" + id, text: "Kilograms" }),
        el("input", { id: "kg-" + id, name: "kg", inputmode: "decimal", autocomplete: "off",
          placeholder: "0.0", maxlength: "8" })));
  }

  function weighForm(stop) {
    if (!(data.materials || []).length) {
      return el("p", { class: "err", text: "No material rates are set for today: call the office." });
    }
    var rows = el("div", { class: "rows" }, materialRow(stop, 0));
    var count = 1;
    var form = el("form", { class: "weigh", novalidate: true },
      el("fieldset", null, el("legend", { class: "vh", text: "Weighing for " + stop.pickup_code }), rows,
        el("button", { type: "button", class: "secondary", onclick: function () {
          if (count < 5) rows.appendChild(materialRow(stop, count++));
        } }, "Add another material"),
        el("button", { type: "submit", class: "primary" }, "Save weighing")));
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var items = [];
      var total = 0;
      var bad = null;
      Array.prototype.forEach.call(rows.querySelectorAll(".row"), function (row) {
        var input = row.querySelector("input");
        var raw = input.value.trim().replace(",", ".");
        input.removeAttribute("aria-invalid");
        if (!raw) return;
        var kg = Number(raw);
        if (!/^\d{1,4}(\.\d{1,3})?$/.test(raw) || !(kg > 0 && kg <= 1000)) {
          input.setAttribute("aria-invalid", "true");
          bad = bad || input;
          return;
        }
        items.push({ material: row.querySelector("select").value, kg: raw });
        total += kg;
      });
      if (bad || !items.length) {
        say(stop.pickup_code, bad ? "Type the weight in kg, like 2.5." : "Type at least one weight.", true);
        (bad || rows.querySelector("input")).focus();
        return;
      }
      enqueue({
        kind: "weighings",
        code: stop.pickup_code,
        label: "Weighing " + stop.pickup_code + " (" + kgText(total) + " kg)",
        body: {
          pickup_code: stop.pickup_code,
          items: items,
          idempotency_key: uuid(),
          collected_at: new Date(Date.now() + skew).toISOString()
        }
      });
    });
    return form;
  }

  function missForm(stop) {
    var id = "r-" + stop.pickup_code;
    var select = el("select", { id: id });
    reasons.forEach(function (r) { select.appendChild(el("option", { text: r })); });
    var form = el("form", null, el("label", { for: id, text: "Why was it missed?" }), select,
      el("button", { type: "submit", class: "secondary" }, "Mark missed"));
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      enqueue({
        kind: "missed",
        code: stop.pickup_code,
        label: "Missed " + stop.pickup_code,
        body: { pickup_code: stop.pickup_code, reason: select.value, idempotency_key: uuid() }
      });
    });
    return el("details", { class: "miss" }, el("summary", { text: "Could not collect?" }), form);
  }

  function pin(stop) {
    if (!navigator.geolocation) return say(stop.pickup_code, "This phone cannot share its location.", true);
    say(stop.pickup_code, "Finding your location…");
    navigator.geolocation.getCurrentPosition(function (pos) {
      var lat = Math.round(pos.coords.latitude * 1e6) / 1e6;
      var lon = Math.round(pos.coords.longitude * 1e6) / 1e6;
      stop.lat = lat;
      stop.lon = lon;
      enqueue({
        kind: "pin",
        code: stop.pickup_code,
        label: "Location of " + stop.pickup_code,
        body: { pickup_code: stop.pickup_code, lat: lat, lon: lon, idempotency_key: uuid() }
      });
      say(stop.pickup_code, "Location saved (within " + Math.round(pos.coords.accuracy) + " m).");
      drawMap();
    }, function () {
      say(stop.pickup_code, "Could not get your location. Allow location, then try again.", true);
    }, { enableHighAccuracy: true, timeout: 20000, maximumAge: 0 });
  }

  // --- the queue -------------------------------------------------------------------

  function enqueue(item) {
    item.id = item.body.idempotency_key;
    item.at = Date.now();
    queue.push(item);
    write(QUEUE, queue);
    var stop = findStop(item.code);
    if (stop && item.kind !== "pin") {
      redraw(stop);
      say(item.code, "Saved on this phone. It sends by itself when there is network.");
      openNext();
    }
    counter();
    sync();
  }

  function counter() {
    $("queue-count").textContent = String(queue.length);
    $("sync").className = queue.length ? "waiting" : "";
    $("sent").textContent = !queue.length && sent ? " · all sent" : "";
  }

  function net(online) {
    $("net").textContent = online ? "" : "Offline: your work is kept on this phone.";
  }

  function problem(text) {
    var box = $("problems");
    var listed = box.firstChild ? box.firstChild.childNodes : [];
    for (var i = 0; i < listed.length; i++) if (listed[i].textContent === text) return;
    if (!box.firstChild) {
      box.appendChild(el("ul"));
      box.appendChild(el("button", { type: "button", class: "secondary small", onclick: function () {
        failed = [];
        write(FAILED, failed);
        box.textContent = "";
      } }, "Clear these messages"));
    }
    box.firstChild.appendChild(el("li", { text: text }));
  }

  function drop(item) {
    queue = queue.filter(function (i) { return i.id !== item.id; });
    write(QUEUE, queue);
  }

  function applied(item, body) {
    sent++;
    var stop = findStop(item.code);
    if (!stop) return;
    if (item.kind === "weighings") {
      stop.status = "done";
      stop.weighed_kg = body.total_grams / 1000;
    } else if (item.kind === "missed") {
      stop.status = "missed";
      stop.missed_reason = body.reason;
    }
    redraw(stop);
    summary("");
    if (item.kind === "weighings") {
      say(item.code, body.status === "capped" ? "Sent. Recorded, but no credit today (budget cap)."
        : "Sent. The household is credited ₦" + (body.credited_kobo / 100).toFixed(2) + ".");
    }
    write(ROUND, data);
  }

  function refused(item, status, body) {
    var why = body && body.error ? body.error.message : "refused (" + status + ")";
    failed.push({ label: item.label, message: why, at: Date.now() });
    write(FAILED, failed.slice(-20));
    problem(item.label + " was not accepted: " + why);
    var stop = findStop(item.code);
    if (stop) {
      redraw(stop);
      say(item.code, "Not accepted: " + why, true);
    }
  }

  function sync() {
    if (syncing || !queue.length) return Promise.resolve(counter());
    syncing = true;
    var step = function () {
      var item = queue[0];
      if (!item) return null;
      return fetch("/collector/api/" + item.kind, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify(item.body)
      }).then(function (res) {
        net(true);
        return res.json().catch(function () { return {}; }).then(function (body) {
          var code = body.error ? body.error.code : "";
          if (res.ok) {
            drop(item);
            applied(item, body);
            counter();
            return step();
          }
          if (res.status === 401 || code === "csrf") {
            problem("Sign in again to send what is waiting (it stays on this phone).");
            return null;
          }
          if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) {
            drop(item); // a definitive answer: sending again would get the same
            refused(item, res.status, body);
            counter();
            return step();
          }
          return null; // the server is struggling: keep it, try later
        });
      }, function () {
        net(false); // no network: keep everything, try later
        return null;
      });
    };
    return step().then(function () {
      syncing = false;
      counter();
    }, function () {
      syncing = false;
      counter();
    });
  }

  // --- the map (optional: the list above is the route when it fails) ---------------

  function mapNote(text) {
    var note = $("map-note");
    note.hidden = !text;
    note.textContent = text || "";
  }

  function drawMap() {
    var box = $("map");
    var r = data && data.round;
    var stops = r ? r.stops.filter(function (s) { return s.lat != null && s.lon != null; }) : [];
    if (!window.L || !stops.length) {
      box.hidden = true;
      mapNote(!r ? "" : !window.L ? "The map could not load: follow the numbered list."
        : "No stop has a map location yet.");
      return;
    }
    try {
      box.hidden = false;
      if (!map) {
        map = L.map(box, { scrollWheelZoom: false });
        L.tileLayer(tiles, { maxZoom: 19, attribution: "© OpenStreetMap contributors" })
          .on("tileerror", function () {
            if (++tileErrors === 3) mapNote("Map pictures are not loading. The numbers and the list still show the route.");
          })
          .addTo(map);
        layer = L.layerGroup().addTo(map);
      }
      layer.clearLayers();
      var hub = [r.hub.lat, r.hub.lon];
      var line = [hub];
      var trip = stops[0].trip;
      L.marker(hub, { icon: L.divIcon({ className: "pin-num pin-hub", html: "H", iconSize: [28, 28] }),
        title: "Hub: " + r.hub.name, keyboard: false }).addTo(layer);
      stops.forEach(function (s) {
        if (s.trip !== trip) { line.push(hub); trip = s.trip; }
        line.push([s.lat, s.lon]);
        L.marker([s.lat, s.lon], {
          icon: L.divIcon({ className: "pin-num" + (s.status === "done" ? " pin-done" : ""),
            html: String(s.seq), iconSize: [30, 30] }),
          title: s.seq + ". " + s.name, keyboard: false
        }).on("click", function () {
          var card = $("stop-" + s.pickup_code);
          if (card) card.scrollIntoView({ behavior: "smooth", block: "start" });
        }).addTo(layer);
      });
      line.push(hub);
      L.polyline(line, { color: "#0b4f1c", weight: 4, opacity: 0.8 }).addTo(layer);
      map.fitBounds(L.latLngBounds(line), { padding: [24, 24], maxZoom: 17 });
      if (tileErrors < 3) mapNote("");
    } catch (e) {
      box.hidden = true;
      mapNote("The map could not be drawn: follow the numbered list.");
    }
  }

  // --- start -----------------------------------------------------------------------

  $("logout").addEventListener("submit", function (ev) {
    if (queue.length && !confirm(queue.length + " waiting to send stay on this phone and send after you sign in again. Sign out?")) {
      ev.preventDefault();
      return;
    }
    // The saved round holds households' phone numbers: do not leave it behind.
    localStorage.removeItem(ROUND);
    if (window.caches) {
      ev.preventDefault();
      var form = ev.target;
      caches.keys().then(function (keys) {
        return Promise.all(keys.filter(function (k) { return k.indexOf("recoop-collector") === 0; })
          .map(function (k) { return caches.delete(k); }));
      }).then(function () { form.submit(); }, function () { form.submit(); });
    }
  });
  $("refresh").addEventListener("click", function () { shown = ""; loadRound().then(sync); });
  window.addEventListener("online", function () {
    net(true);
    sync().then(function () { if (stale) loadRound(); });
  });
  window.addEventListener("offline", function () { net(false); });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") sync();
  });
  setInterval(sync, 15000);
  failed.slice(-5).forEach(function (f) { problem(f.label + " was not accepted: " + f.message); });
  if (!navigator.onLine) net(false);
  counter();
  loadRound().then(sync);
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/collector/sw.js", { scope: "/collector" }).catch(function () {});
  }
})();
