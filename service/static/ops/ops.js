/* Operator dashboard: the map, planning progress and charts. The pages work without it. */
(function () {
  "use strict";

  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  /* Forms that send SMS to many households ask first. */
  function confirmations() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
      });
    });
  }

  /* Numbered stops per bike, hubs and waiting requests on a Leaflet map. */
  function drawMap() {
    var holder = document.getElementById("map");
    var source = document.getElementById("ops-map-data");
    if (!holder || !source) return;
    if (!window.L) {
      holder.hidden = true;
      var failed = document.getElementById("map-tiles-failed");
      if (failed) {
        failed.textContent = "The map could not be loaded; the tables below list every stop.";
        failed.hidden = false;
      }
      return;
    }
    var data = JSON.parse(source.textContent);
    var map = L.map(holder, { scrollWheelZoom: false });
    var tiles = L.tileLayer(data.tiles, { maxZoom: 19, attribution: data.attribution || "" });
    var tileErrors = 0;
    tiles.on("tileerror", function () {
      tileErrors += 1;
      var note = document.getElementById("map-tiles-failed");
      if (note && tileErrors === 1) note.hidden = false;
    });
    tiles.addTo(map);

    var bounds = [];
    var hubs = {};
    data.hubs.forEach(function (hub) {
      hubs[hub.id] = hub;
      var icon = L.divIcon({ className: "ops-hub", html: el("span", "H"), iconSize: [24, 24] });
      L.marker([hub.lat, hub.lon], { icon: icon, title: "Hub: " + hub.name, alt: "Hub " + hub.name, keyboard: false })
        .addTo(map);
      bounds.push([hub.lat, hub.lon]);
    });

    data.waiting.forEach(function (w) {
      L.circleMarker([w.lat, w.lon], { radius: 6, color: "#4a4a4a", weight: 2, fillColor: "#9e9e9e", fillOpacity: 0.5 })
        .bindTooltip(w.code + " · " + w.name + " (not planned yet)")
        .addTo(map);
      bounds.push([w.lat, w.lon]);
    });

    data.rounds.forEach(function (round) {
      var line = [];
      var hub = hubs[round.hub_id];
      if (hub) line.push([hub.lat, hub.lon]);
      round.visits.forEach(function (v) {
        line.push([v.lat, v.lon]);
        bounds.push([v.lat, v.lon]);
        var badge = el("span", v.seq);
        badge.style.background = round.colour;
        var icon = L.divIcon({ className: "ops-stop", html: badge, iconSize: [24, 24] });
        var popup = el("div");
        popup.appendChild(el("strong", round.bike + " · stop " + v.seq));
        popup.appendChild(el("div", v.code + " · " + v.name));
        popup.appendChild(el("div", "arrive " + (v.arrival || "?") + (v.window ? " · window " + v.window : "")));
        L.marker([v.lat, v.lon], {
          icon: icon,
          title: round.bike + ", stop " + v.seq + ": " + v.code,
          alt: round.bike + " stop " + v.seq,
          keyboard: false
        }).bindPopup(popup).addTo(map);
      });
      if (hub) line.push([hub.lat, hub.lon]);
      if (line.length > 1) L.polyline(line, { color: round.colour, weight: 3, opacity: 0.8 }).addTo(map);
    });

    if (bounds.length) map.fitBounds(bounds, { padding: [24, 24], maxZoom: 16 });
    else map.setView([6.5095, 3.3711], 13); /* Yaba, Lagos */
    holder.setAttribute("data-ready", "1");
  }

  /* Poll the planning run until it ends, then reload to show the new rounds. */
  function followPlanning() {
    var job = document.getElementById("plan-job");
    if (!job || job.getAttribute("data-state") !== "running") return;
    var url = job.getAttribute("data-status-url");
    var bar = document.getElementById("plan-progress");
    var elapsed = document.getElementById("plan-elapsed");
    function poll() {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) throw new Error("status " + response.status);
          return response.json();
        })
        .then(function (status) {
          if (status.state === "running") {
            if (bar) bar.value = Math.min(status.elapsed_s, status.budget_s);
            if (elapsed) elapsed.textContent = status.elapsed_s;
            window.setTimeout(poll, 500);
          } else {
            window.location.reload();
          }
        })
        .catch(function () { window.setTimeout(poll, 2000); });
    }
    window.setTimeout(poll, 300);
  }

  /* Three uPlot charts from /ops/charts.json. */
  function drawCharts() {
    var holder = document.getElementById("charts");
    if (!holder || !window.uPlot) return;
    fetch(holder.getAttribute("data-url"), { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        var day = function (iso) { return Date.parse(iso + "T00:00:00Z") / 1000; };
        var utc = function (ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); };
        var colours = ["#1f57b8", "#b3261e", "#17703a", "#7b3fa0", "#9a4f00", "#006b75"];
        function plot(id, series, x, ys, yLabel, bars) {
          var target = document.getElementById(id);
          if (!target) return;
          var width = Math.max(320, target.clientWidth || 800);
          /* Half a step of room at each end, so the first and last bars show whole. */
          var half = (bars ? 7 : 1) * 43200;
          var opts = {
            width: width,
            height: 280,
            tzDate: utc,
            scales: { x: { time: true, range: function (u, min, max) { return [min - half, max + half]; } } },
            axes: [{}, { label: yLabel }],
            series: [{ label: bars ? "Week of" : "Day" }].concat(series.map(function (name, i) {
              var s = { label: name, stroke: colours[i % colours.length], width: 2 };
              if (bars) {
                s.fill = colours[i % colours.length] + "55";
                s.points = { show: false };
                s.paths = uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.6, 80] }) : undefined;
              }
              return s;
            }))
          };
          var chart = new uPlot(opts, [x].concat(ys), target);
          window.addEventListener("resize", function () {
            chart.setSize({ width: Math.max(320, target.clientWidth || 800), height: 280 });
          });
        }
        var kg = data.kg_per_material;
        var materials = Object.keys(kg.materials);
        plot("chart-kg", materials, kg.days.map(day), materials.map(function (m) { return kg.materials[m]; }), "kg", false);
        var credit = data.credit;
        plot("chart-credit", ["Issued (₦)", "Redeemed (₦)"], credit.days.map(day),
          [credit.issued_kobo.map(function (k) { return k / 100; }), credit.redeemed_kobo.map(function (k) { return k / 100; })], "₦", false);
        var active = data.active_households;
        plot("chart-active", ["Households"], active.weeks.map(day), [active.households], "households", true);
        holder.setAttribute("data-ready", "1");
      })
      .catch(function () {
        document.querySelectorAll(".chart").forEach(function (c) { c.hidden = true; });
      });
  }

  function start() {
    confirmations();
    drawMap();
    followPlanning();
    drawCharts();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
