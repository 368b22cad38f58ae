// Overview: the fleet on a map coloured by state, filters by profile and district,
// and the fleet figures (online, open alerts by severity, readings per minute,
// dead letters in the last hour).

import { all, ApiError, get, live } from "./api.js";
import { STATE_LABEL, deviceState, el, label, number } from "./format.js";

const SEVERITIES = ["critical", "warning", "info"];

/** Readings per minute from two samples of the hub's Prometheus counter. */
async function readingsCounter() {
  const response = await fetch("/metrics", { cache: "no-store" });
  if (!response.ok) return null;
  const text = await response.text();
  const line = text.split("\n").find((l) => l.startsWith("hub_ingest_readings_total "));
  return line ? Number(line.split(" ")[1]) : null;
}

export async function show(root, ctx) {
  const state = {
    devices: [],
    alerts: [],
    profile: sessionStorage.getItem("hub.filter.profile") || "",
    district: sessionStorage.getItem("hub.filter.district") || "",
  };
  const figures = {
    online: el("strong", { "data-figure": "online", text: "…" }),
    alerts: el("span", { class: "severities", "data-figure": "alerts" }),
    rate: el("strong", { "data-figure": "rate", text: "…" }),
    dead: el("strong", { "data-figure": "dead", text: "…" }),
  };
  const profileSelect = el("select", { id: "filter-profile", "aria-label": "Profile" });
  const districtSelect = el("select", { id: "filter-district", "aria-label": "District" });
  const mapBox = el("div", { id: "map", class: ctx.config.tile_url ? "tiled" : "plain" });
  const attention = el("ul", { class: "attention", id: "attention" });
  const unplaced = el("p", { class: "quiet", id: "unplaced", hidden: true });
  const legend = el(
    "div",
    { class: "legend" },
    ["ok", "alert", "offline", "unknown"].map((s) =>
      el("span", {}, el("i", { class: `dot state-${s}` }), STATE_LABEL[s]),
    ),
  );

  root.append(
    el(
      "section",
      { class: "figures" },
      el("div", { class: "figure" }, el("span", { text: "Devices online" }), figures.online),
      el("div", { class: "figure" }, el("span", { text: "Open alerts" }), figures.alerts),
      el("div", { class: "figure" }, el("span", { text: "Readings per minute" }), figures.rate),
      el("div", { class: "figure" }, el("span", { text: "Dead letters, last hour" }), figures.dead),
      el(
        "div",
        { class: "filters" },
        el("label", {}, "Profile ", profileSelect),
        el("label", {}, "District ", districtSelect),
      ),
    ),
    el(
      "section",
      { class: "overview" },
      mapBox,
      el("aside", { class: "side" }, legend, unplaced, el("h2", { text: "Needs attention" }), attention),
    ),
  );

  // No animations: a wall screen gains nothing, and leaving the page mid-animation
  // would leave Leaflet a removed map to move.
  const map = L.map(mapBox, {
    zoomSnap: 0.25,
    zoomAnimation: false,
    fadeAnimation: false,
    markerZoomAnimation: false,
    attributionControl: Boolean(ctx.config.tile_url),
  });
  if (ctx.config.tile_url) {
    L.tileLayer(ctx.config.tile_url, { maxZoom: 19, attribution: ctx.config.tile_attribution }).addTo(map);
  }
  map.setView([60.79, 11.07], 12);
  const layer = L.layerGroup().addTo(map);
  let fitted = false;

  function selected() {
    return state.devices.filter(
      (d) =>
        (!state.profile || d.profile === state.profile) &&
        (!state.district || d.district === state.district),
    );
  }

  function options(select, values, current, all) {
    select.replaceChildren(
      el("option", { value: "", text: all }),
      ...values.map((v) => el("option", { value: v, text: label(v), selected: v === current })),
    );
  }

  function draw() {
    const alerting = new Set(state.alerts.map((a) => a.device_id));
    const shown = selected();
    layer.clearLayers();
    const points = [];
    const needs = [];
    for (const d of shown) {
      const s = deviceState(d, alerting);
      if (s === "alert" || s === "offline") needs.push([d, s]);
      if (!d.location) continue;
      const latlng = [d.location.lat, d.location.lon];
      points.push(latlng);
      L.circleMarker(latlng, {
        radius: s === "ok" ? 5 : 8,
        weight: 1,
        color: "#222",
        fillOpacity: 0.9,
        className: `device-marker state-${s}`,
      })
        .bindTooltip(`${d.device_id} · ${label(d.profile)} · ${STATE_LABEL[s]}`)
        .on("click", () => {
          location.hash = `#/device/${encodeURIComponent(d.device_id)}`;
        })
        .addTo(layer);
    }
    mapBox.dataset.markers = String(points.length);
    const missing = shown.length - points.length;
    unplaced.hidden = missing === 0;
    unplaced.textContent = `${missing} of ${shown.length} devices have no coordinates and are not on the map (set lat/lon with PATCH /api/v1/devices/{id}).`;
    if (points.length && !fitted) {
      map.fitBounds(points, { padding: [24, 24], maxZoom: 16, animate: false });
      fitted = true;
    }
    const online = shown.filter((d) => d.status === "online").length;
    figures.online.textContent = `${online} / ${shown.length}`;
    const ids = new Set(shown.map((d) => d.device_id));
    const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, 0]));
    for (const a of state.alerts) if (ids.has(a.device_id)) bySeverity[a.severity] += 1;
    figures.alerts.replaceChildren(
      ...SEVERITIES.map((s) =>
        el("b", { class: `sev sev-${s}`, title: s, "data-severity": s }, String(bySeverity[s]), " ", s),
      ),
    );
    needs.sort((a, b) => (a[1] === b[1] ? a[0].device_id.localeCompare(b[0].device_id) : a[1] === "alert" ? -1 : 1));
    attention.replaceChildren(
      ...(needs.length
        ? needs.slice(0, 200).map(([d, s]) =>
            el(
              "li",
              {},
              el("i", { class: `dot state-${s}` }),
              el("a", { href: `#/device/${encodeURIComponent(d.device_id)}`, text: d.device_id }),
              ` ${d.district || ""} · ${STATE_LABEL[s]}`,
            ),
          )
        : [el("li", { class: "quiet", text: "Nothing: every device reports and no alert is open." })]),
    );
  }

  async function load() {
    const [devices, open, acked] = await Promise.all([
      all("/api/v1/devices", { limit: 1000 }),
      all("/api/v1/alerts", { state: "open", limit: 1000 }),
      all("/api/v1/alerts", { state: "acknowledged", limit: 1000 }),
    ]);
    state.devices = devices;
    state.alerts = [...open, ...acked];
    const profiles = [...new Set(devices.map((d) => d.profile))].sort();
    const districts = [...new Set(devices.map((d) => d.district).filter(Boolean))].sort();
    options(profileSelect, profiles, state.profile, "All profiles");
    options(districtSelect, districts, state.district, "All districts");
    draw();
  }

  async function loadDeadLetters() {
    try {
      const from = new Date(Date.now() - 3600_000).toISOString();
      const page = await get("/api/v1/dead-letters", { from, limit: 1000 });
      figures.dead.textContent = `${page.items.length}${page.next_cursor ? "+" : ""}`;
      figures.dead.title = "";
    } catch (err) {
      const needsKey = err instanceof ApiError && (err.status === 401 || err.status === 403);
      figures.dead.textContent = needsKey ? "operator key" : "–";
      figures.dead.title = needsKey ? "Dead letters are shown to operators: save an operator key." : err.message;
    }
  }

  let lastCount = null;
  let lastAt = 0;
  async function sampleRate() {
    const count = await readingsCounter().catch(() => null);
    const now = performance.now();
    if (count !== null && lastCount !== null && now > lastAt) {
      figures.rate.textContent = number(Math.max(0, ((count - lastCount) * 60000) / (now - lastAt)));
    } else if (count === null) {
      figures.rate.textContent = "–";
    }
    if (count !== null) {
      lastCount = count;
      lastAt = now;
    }
  }

  profileSelect.addEventListener("change", () => {
    state.profile = profileSelect.value;
    sessionStorage.setItem("hub.filter.profile", state.profile);
    fitted = false;
    draw();
  });
  districtSelect.addEventListener("change", () => {
    state.district = districtSelect.value;
    sessionStorage.setItem("hub.filter.district", state.district);
    fitted = false;
    draw();
  });

  await load();
  loadDeadLetters();
  await sampleRate();
  const rateFirst = setTimeout(sampleRate, 5000);
  const timers = [
    setInterval(sampleRate, 15000),
    setInterval(loadDeadLetters, 30000),
    setInterval(() => load().catch(ctx.explain), 60000),
  ];

  let redraw = null;
  const stop = live(
    { type: ["status", "alert"] },
    (type, data) => {
      if (type === "status") {
        const d = state.devices.find((x) => x.device_id === data.device_id);
        if (d) d.status = data.status;
        else {
          load().catch(ctx.explain);
          return;
        }
      } else if (type === "alert") {
        state.alerts = state.alerts.filter((a) => a.id !== data.id);
        if (data.state !== "resolved") state.alerts.push(data);
      }
      // many events may arrive at once: draw at most once a second
      redraw ??= setTimeout(() => {
        redraw = null;
        draw();
      }, 1000);
    },
    ctx.setLive,
  );

  return () => {
    stop();
    clearTimeout(rateFirst);
    clearTimeout(redraw);
    timers.forEach(clearInterval);
    map.remove();
  };
}
