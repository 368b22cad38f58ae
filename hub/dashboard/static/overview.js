// Overview: the fleet on a map (tiles when configured, else the operator's
// districts), clustered where dense, shape and colour by state; filters by profile
// and district; the fleet figures; devices without coordinates placed by dragging
// them onto the map.

import { all, ApiError, apiKey, get, live, patch } from "./api.js";
import { STATES, STATE_SHAPE, deviceState, el, number, profileLabel, stateBadge, stateLabel } from "./format.js";
import { t } from "./i18n.js";

const SEVERITIES = ["critical", "warning", "info"];
const WINDOW_MS = 60_000; // readings per minute: the counter's growth over the last minute
const MEASURE_MS = 30_000; // and no figure before half a minute of it (devices report every few minutes)

/** The hub's Prometheus counter of stored readings. */
async function readingsCounter() {
  const response = await fetch("/metrics", { cache: "no-store" });
  if (!response.ok) return null;
  const text = await response.text();
  const line = text.split("\n").find((l) => l.startsWith("hub_ingest_readings_total "));
  return line ? Number(line.split(" ")[1]) : null;
}

function markerIcon(state) {
  return L.divIcon({
    className: "device-pin",
    html: `<span class="device-marker state-${state}" data-state="${state}" aria-hidden="true">${STATE_SHAPE[state]}</span>`,
    iconSize: [26, 26],
    iconAnchor: [13, 13],
    tooltipAnchor: [12, 0],
  });
}

function clusterIcon(cluster) {
  const states = cluster.getAllChildMarkers().map((m) => m.options.deviceState);
  const worst = ["alert", "offline", "ok", "unknown"].find((s) => states.includes(s)) || "unknown";
  const n = cluster.getChildCount();
  return L.divIcon({
    className: "device-cluster",
    html: `<span class="cluster state-${worst}"><span aria-hidden="true">${STATE_SHAPE[worst]}</span> ${n}</span>`,
    iconSize: [52, 32],
  });
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
    rateNote: el("small", { class: "note", id: "rate-note", text: t("overview.rateMeasuring") }),
    dead: el("strong", { "data-figure": "dead", text: "…" }),
    deadNote: el("small", { class: "note", id: "dead-note" }),
  };
  const profileSelect = el("select", { id: "filter-profile" });
  const districtSelect = el("select", { id: "filter-district" });
  const mapBox = el("div", { id: "map", class: ctx.config.tile_url ? "tiled" : "plain", role: "region", "aria-label": t("overview.map") });
  const attention = el("ul", { class: "attention", id: "attention" });
  const unplacedBox = el("div", { id: "unplaced", hidden: true });
  const legend = el(
    "ul",
    { class: "legend", "aria-label": t("overview.legend") },
    STATES.map((s) => el("li", {}, stateBadge(s))),
  );

  root.append(
    el("h1", { class: "sr-only", text: t("title.overview") }),
    el(
      "section",
      { class: "figures", "aria-label": t("overview.figures") },
      el("div", { class: "figure" }, el("span", { text: t("overview.online") }), figures.online),
      el("div", { class: "figure" }, el("span", { text: t("overview.openAlerts") }), figures.alerts),
      el("div", { class: "figure" }, el("span", { text: t("overview.rate") }), figures.rate, figures.rateNote),
      el("div", { class: "figure" }, el("span", { text: t("overview.dead") }), figures.dead, figures.deadNote),
      el(
        "div",
        { class: "filters" },
        el("label", {}, `${t("filter.profile")} `, profileSelect),
        el("label", {}, `${t("filter.district")} `, districtSelect),
      ),
    ),
    el(
      "section",
      { class: "overview" },
      mapBox,
      el("aside", { class: "side", "aria-label": t("overview.side") }, legend, unplacedBox, el("h2", { text: t("overview.attention") }), attention),
    ),
  );

  // No animations: a wall screen gains nothing, and leaving the page mid-animation
  // would leave Leaflet a removed map to move.
  const map = L.map(mapBox, {
    zoomSnap: 0.25,
    maxZoom: 19,
    minZoom: 3,
    zoomControl: false,
    zoomAnimation: false,
    fadeAnimation: false,
    markerZoomAnimation: false,
    attributionControl: true,
  });
  map.attributionControl.setPrefix(false);
  L.control.zoom({ zoomInTitle: t("map.zoomIn"), zoomOutTitle: t("map.zoomOut") }).addTo(map);
  if (ctx.config.tile_url) {
    L.tileLayer(ctx.config.tile_url, { maxZoom: 19, attribution: ctx.config.tile_attribution }).addTo(map);
  }
  map.setView([60.79, 11.07], 12);
  let districtBounds = null;
  if (ctx.config.districts) {
    try {
      const response = await fetch("/dashboard/districts.geojson", { cache: "no-cache" });
      if (response.ok) {
        const shapes = L.geoJSON(await response.json(), {
          style: { color: "#3d5a80", weight: 2, fillColor: "#98c1d9", fillOpacity: 0.18 },
          onEachFeature: (feature, layer) => {
            const name = feature.properties?.name;
            if (name) layer.bindTooltip(name, { permanent: true, direction: "center", className: "district-label" });
          },
        }).addTo(map);
        districtBounds = shapes.getBounds();
        mapBox.dataset.districts = String(shapes.getLayers().length);
      }
    } catch (err) {
      console.warn("districts not drawn:", err.message);
    }
  }
  if (districtBounds?.isValid()) map.fitBounds(districtBounds, { padding: [12, 12], animate: false });
  const layer = L.markerClusterGroup({
    maxClusterRadius: 36,
    disableClusteringAtZoom: 16,
    showCoverageOnHover: false,
    animate: false,
    iconCreateFunction: clusterIcon,
  }).addTo(map);
  let fitted = false;

  function selected() {
    return state.devices.filter(
      (d) => (!state.profile || d.profile === state.profile) && (!state.district || d.district === state.district),
    );
  }

  function options(select, values, current, allText, text) {
    select.replaceChildren(
      el("option", { value: "", text: allText }),
      ...values.map((v) => el("option", { value: v, text: text(v), selected: v === current })),
    );
  }

  async function place(deviceId, latlng) {
    if (!apiKey()) {
      ctx.say(t("overview.placeNeedsKey"));
      return;
    }
    try {
      const updated = await patch(`/api/v1/devices/${encodeURIComponent(deviceId)}`, {
        lat: Number(latlng.lat.toFixed(6)),
        lon: Number(latlng.lng.toFixed(6)),
      });
      const d = state.devices.find((x) => x.device_id === deviceId);
      if (d) d.location = updated.location;
      ctx.say("");
      draw();
    } catch (err) {
      ctx.explain(err);
    }
  }

  mapBox.addEventListener("dragover", (event) => {
    if (event.dataTransfer.types.includes("text/x-device")) event.preventDefault();
  });
  mapBox.addEventListener("drop", (event) => {
    const deviceId = event.dataTransfer.getData("text/x-device");
    if (!deviceId) return;
    event.preventDefault();
    place(deviceId, map.mouseEventToLatLng(event));
  });

  function drawUnplaced(missing, total) {
    unplacedBox.hidden = missing.length === 0;
    if (!missing.length) {
      unplacedBox.replaceChildren();
      return;
    }
    unplacedBox.replaceChildren(
      el("h2", { text: t("overview.unplacedTitle") }),
      el("p", { class: "quiet", text: t("overview.unplaced", { n: missing.length, total }) }),
      el(
        "ul",
        { class: "unplaced" },
        missing.slice(0, 50).map((d) =>
          el(
            "li",
            {
              draggable: "true",
              "data-unplaced": d.device_id,
              ondragstart: (event) => {
                event.dataTransfer.setData("text/x-device", d.device_id);
                event.dataTransfer.effectAllowed = "move";
              },
            },
            el("span", { class: "grip", "aria-hidden": "true", text: "⠿" }),
            el("a", { href: `#/device/${encodeURIComponent(d.device_id)}`, text: d.device_id }),
            el("button", {
              type: "button",
              class: "place",
              text: t("overview.placeCentre"),
              "aria-label": t("overview.placeCentreFor", { id: d.device_id }),
              onclick: () => place(d.device_id, map.getCenter()),
            }),
          ),
        ),
      ),
    );
  }

  function draw() {
    const alerting = new Set(state.alerts.map((a) => a.device_id));
    const shown = selected();
    layer.clearLayers();
    const points = [];
    const needs = [];
    const markers = [];
    const missing = [];
    for (const d of shown) {
      const s = deviceState(d, alerting);
      if (s === "alert" || s === "offline") needs.push([d, s]);
      if (!d.location) {
        missing.push(d);
        continue;
      }
      const latlng = [d.location.lat, d.location.lon];
      points.push(latlng);
      const title = `${d.device_id} · ${profileLabel(d.profile)} · ${stateLabel(s)}`;
      const marker = L.marker(latlng, { icon: markerIcon(s), title, alt: title, deviceState: s, keyboard: true });
      marker.bindTooltip(title).on("click", () => {
        location.hash = `#/device/${encodeURIComponent(d.device_id)}`;
      });
      markers.push(marker);
    }
    layer.addLayers(markers);
    mapBox.dataset.markers = String(points.length);
    drawUnplaced(missing, shown.length);
    if (points.length && !fitted) {
      map.fitBounds(points, { padding: [24, 24], maxZoom: 16, animate: false });
      fitted = true;
    }
    const online = shown.filter((d) => d.status === "online").length;
    figures.online.textContent = `${number(online, 0)} / ${number(shown.length, 0)}`;
    const ids = new Set(shown.map((d) => d.device_id));
    const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, 0]));
    for (const a of state.alerts) if (ids.has(a.device_id)) bySeverity[a.severity] += 1;
    figures.alerts.replaceChildren(
      ...SEVERITIES.map((s) => el("b", { class: `sev sev-${s}`, "data-severity": s }, String(bySeverity[s]), " ", t(`severity.${s}`))),
    );
    needs.sort((a, b) => (a[1] === b[1] ? a[0].device_id.localeCompare(b[0].device_id) : a[1] === "alert" ? -1 : 1));
    attention.replaceChildren(
      ...(needs.length
        ? needs.slice(0, 200).map(([d, s]) =>
            el(
              "li",
              {},
              stateBadge(s),
              " ",
              el("a", { href: `#/device/${encodeURIComponent(d.device_id)}`, text: d.device_id }),
              ` ${d.district || ""}`,
            ),
          )
        : [el("li", { class: "quiet empty", text: t("overview.nothing") })]),
    );
    if (!state.devices.length) {
      attention.replaceChildren(el("li", { class: "quiet empty", text: t("overview.noDevices") }));
    }
  }

  async function load() {
    const [devices, open, acked] = await Promise.all([
      all("/api/v1/devices", { limit: 1000 }),
      all("/api/v1/alerts", { state: "open", limit: 1000 }),
      all("/api/v1/alerts", { state: "acknowledged", limit: 1000 }),
    ]);
    state.devices = devices.filter((d) => !d.decommissioned_at); // out of service: not on the map
    state.alerts = [...open, ...acked];
    const profiles = [...new Set(devices.map((d) => d.profile))].sort();
    const districts = [...new Set(devices.map((d) => d.district).filter(Boolean))].sort((a, b) => a.localeCompare(b, "nb"));
    options(profileSelect, profiles, state.profile, t("filter.allProfiles"), profileLabel);
    options(districtSelect, districts, state.district, t("filter.allDistricts"), (v) => v);
    draw();
  }

  async function loadDeadLetters() {
    try {
      const from = new Date(Date.now() - 3600_000).toISOString();
      const page = await get("/api/v1/dead-letters", { from, limit: 1000 });
      figures.dead.textContent = `${page.items.length}${page.next_cursor ? "+" : ""}`;
      figures.deadNote.textContent = "";
    } catch (err) {
      const needsKey = err instanceof ApiError && (err.status === 401 || err.status === 403);
      figures.dead.textContent = "–";
      figures.deadNote.textContent = needsKey ? t("overview.deadNeedsKey") : t("error.load", { detail: err.message });
    }
  }

  // Readings per minute: the counter's growth over the samples of the last minute;
  // "measuring" until half a minute of samples is in, never a made-up 0.
  const samples = [];
  async function sampleRate() {
    const count = await readingsCounter().catch(() => null);
    const now = performance.now();
    if (count === null) {
      figures.rate.textContent = "–";
      figures.rateNote.textContent = t("overview.rateUnknown");
      return;
    }
    samples.push([now, count]);
    while (samples.length > 2 && now - samples[1][0] >= WINDOW_MS) samples.shift();
    const [t0, c0] = samples[0];
    if (now - t0 < MEASURE_MS) {
      figures.rate.textContent = "…";
      figures.rateNote.textContent = t("overview.rateMeasuring");
      return;
    }
    figures.rate.textContent = number(Math.max(0, ((count - c0) * 60000) / (now - t0)), 0);
    figures.rateNote.textContent = t("overview.rateWindow", { s: Math.round((now - t0) / 1000) });
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
  const timers = [
    setInterval(sampleRate, 5000),
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
    clearTimeout(redraw);
    timers.forEach(clearInterval);
    map.remove();
  };
}
