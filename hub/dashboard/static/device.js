// Device page: latest values with units (booleans as words), a chart per numeric
// metric over 1 h, 24 h, 7 d or 30 d (buckets for the long ranges) drawn over
// exactly that period, live readings from the stream, its alerts.

import { get, live } from "./api.js";
import { chart } from "./chart.js";
import {
  ago,
  clock,
  deviceState,
  duration,
  el,
  metricLabel,
  metricUnit,
  number,
  profileInfo,
  profileLabel,
  severityLabel,
  stateBadge,
  valueText,
} from "./format.js";
import { t, zoneName } from "./i18n.js";

// Range -> how it is read: raw readings for the last hour, buckets after that, so no
// chart ever asks for more than a few hundred points per metric.
export const RANGES = {
  "1h": { ms: 3600_000, bucket: null },
  "24h": { ms: 86400_000, bucket: "5m" },
  "7d": { ms: 7 * 86400_000, bucket: "1h" },
  "30d": { ms: 30 * 86400_000, bucket: "3h" },
};

function chartWidth(box, columns) {
  const width = Math.floor(box.getBoundingClientRect().width);
  return Math.max(240, Math.floor(width / columns) - 28);
}

export async function show(root, ctx) {
  const id = ctx.deviceId;
  let range = sessionStorage.getItem("hub.range") || "1h";
  if (!RANGES[range]) range = "1h";
  const device = await get(`/api/v1/devices/${encodeURIComponent(id)}`);
  // metrics the device has never reported (radio figures of a device that is not on
  // LoRaWAN, say) are named in one line instead of a tile and an empty chart each
  const silent = device.metrics.filter((m) => !m.latest);
  device.metrics = device.metrics.filter((m) => m.latest);
  const metrics = device.metrics.filter((m) => m.type !== "bool");
  const charts = new Map(); // metric -> {times, values, view}
  const latestCells = new Map();
  const interval = profileInfo(device.profile)?.expected_interval_s;

  const status = el("span", { id: "device-status" });
  const alertsBox = el("ul", { class: "alert-list", id: "device-alerts" });
  const rangeButtons = el(
    "div",
    { class: "ranges", role: "group", "aria-label": t("device.range") },
    Object.keys(RANGES).map((r) =>
      el("button", { type: "button", "data-range": r, text: t(`range.${r}`), "aria-pressed": "false", onclick: () => setRange(r) }),
    ),
  );
  const latest = el("div", { class: "latest", id: "latest" });
  const chartsBox = el("div", { class: "charts", id: "charts" });

  for (const m of device.metrics) {
    const value = el("strong", { class: "value" });
    const when = el("small", {});
    latestCells.set(m.name, { value, when });
    const unit = m.type === "bool" ? "" : metricUnit(device.profile, m.name);
    latest.append(
      el(
        "div",
        { class: "metric", "data-metric": m.name },
        el("span", { class: "name", text: metricLabel(device.profile, m.name) }),
        el("span", {}, value, unit ? el("span", { class: "unit", text: ` ${unit}` }) : null),
        when,
      ),
    );
    setLatest(m.name, m.latest);
  }

  root.append(
    el(
      "section",
      { class: "device-head" },
      el("a", { href: "#/", class: "back", text: `← ${t("nav.overview")}` }),
      el("h1", { text: device.name ? `${device.device_id} · ${device.name}` : device.device_id }),
      status,
      el(
        "span",
        { class: "meta" },
        `${profileLabel(device.profile)} · ${device.district || t("device.noDistrict")} · ${t("device.lastSeen")} `,
        el("span", { id: "last-seen", text: ago(device.last_seen) }),
      ),
      el("span", { class: "meta zone", id: "time-zone", text: t("device.zone", { zone: zoneName() }) }),
      rangeButtons,
    ),
    el(
      "section",
      { class: "device-body" },
      el(
        "div",
        { class: "main", tabindex: "0", role: "region", "aria-label": t("device.readings") },
        latest,
        silent.length
          ? el("p", { class: "quiet", id: "never-reported", text: t("device.neverReported", { names: silent.map((m) => metricLabel(device.profile, m.name)).join(", ") }) })
          : null,
        chartsBox,
      ),
      el("aside", { class: "side", "aria-label": t("device.alerts") }, el("h2", { text: t("device.alerts") }), alertsBox),
    ),
  );

  function setLatest(name, point) {
    const cell = latestCells.get(name);
    if (!cell) return;
    const m = device.metrics.find((x) => x.name === name);
    if (!point) {
      cell.value.textContent = "–";
      cell.when.textContent = t("device.noReading");
      return;
    }
    // the unit stands beside the value; a boolean reads as a word, without unit
    cell.value.textContent = m?.type === "bool" ? valueText(device.profile, name, point.value) : number(point.value);
    cell.when.textContent = clock(point.time);
  }

  function drawAlerts(list) {
    device.open_alerts = list;
    const s = deviceState(device, new Set(list.length ? [device.device_id] : []));
    status.replaceChildren(stateBadge(s));
    alertsBox.replaceChildren(
      ...(list.length
        ? list.map((a) =>
            el(
              "li",
              { class: `sev-${a.severity}` },
              el("a", { href: `#/alert/${a.id}`, text: `${severityLabel(a.severity)} · ${a.rule_name}` }),
              el("span", { text: a.message }),
              el("small", { text: `${t(`alertState.${a.state}`)} · ${t("alert.opened")} ${clock(a.opened_at)}` }),
            ),
          )
        : [el("li", { class: "quiet empty", text: t("device.noAlerts") })]),
    );
  }
  drawAlerts(device.open_alerts);

  const columns = () => (window.innerWidth < 700 || metrics.length < 2 ? 1 : 2);
  for (const m of metrics) {
    const box = el("div", { class: "chart", "data-chart": m.name });
    const unit = metricUnit(device.profile, m.name);
    chartsBox.append(
      el(
        "div",
        { class: "chart-card" },
        el("h3", {}, metricLabel(device.profile, m.name), unit ? el("small", { text: ` (${unit})` }) : null),
        box,
      ),
    );
    const view = chart(box, { profile: device.profile, metric: m.name, width: chartWidth(chartsBox, columns()) });
    charts.set(m.name, { times: [], values: [], view });
  }
  if (!metrics.length) {
    // never heard from, or nothing but booleans: say which
    const why = device.last_seen || silent.length === 0 ? t("device.noCharts") : t("chart.emptyNever");
    chartsBox.append(el("p", { class: "quiet empty", id: "charts-empty", text: why }));
  }

  let window_ = { from: 0, to: 0 };
  function emptyText() {
    if (!device.last_seen) return t("chart.emptyNever");
    const since = (Date.now() - Date.parse(device.last_seen)) / 1000;
    if (since * 1000 > RANGES[range].ms) return t("chart.emptySilent", { ago: ago(device.last_seen) });
    return t("chart.emptyRange", { range: t(`range.${range}`), interval: interval ? duration(interval) : "?" });
  }

  function redraw(name) {
    const s = charts.get(name);
    s.view.setData(s.times, s.values, window_.from, window_.to);
    s.view.empty(s.times.length ? "" : emptyText());
  }

  async function loadRange() {
    const spec = RANGES[range];
    for (const b of rangeButtons.children) {
      b.classList.toggle("active", b.dataset.range === range);
      b.setAttribute("aria-pressed", String(b.dataset.range === range));
    }
    const to = new Date(Date.now() + 60_000);
    const from = new Date(Date.now() - spec.ms);
    window_ = { from: from.getTime() / 1000, to: Date.now() / 1000 };
    const params = { from: from.toISOString(), to: to.toISOString(), metric: metrics.map((m) => m.name) };
    if (spec.bucket) Object.assign(params, { bucket: spec.bucket, agg: "avg" });
    const body = metrics.length ? await get(`/api/v1/devices/${encodeURIComponent(id)}/readings`, params) : { readings: [] };
    for (const s of charts.values()) {
      s.times.length = 0;
      s.values.length = 0;
    }
    for (const r of body.readings) {
      const s = charts.get(r.metric);
      if (!s || r.value === null) continue;
      s.times.push(Date.parse(r.time) / 1000);
      s.values.push(r.value);
    }
    for (const name of charts.keys()) redraw(name);
  }

  function setRange(r) {
    range = r;
    sessionStorage.setItem("hub.range", r);
    loadRange().catch(ctx.explain);
  }

  await loadRange();

  const onResize = () => {
    const w = chartWidth(chartsBox, columns());
    for (const s of charts.values()) s.view.setSize(w);
  };
  window.addEventListener("resize", onResize);

  const ticker = setInterval(() => {
    document.getElementById("last-seen").textContent = ago(device.last_seen);
    window_.to = Date.now() / 1000;
    window_.from = window_.to - RANGES[range].ms / 1000;
  }, 5000);

  const stop = live(
    { device: id },
    (type, data) => {
      if (type === "reading") {
        device.last_seen = data.time;
        if (device.status === "offline") {
          device.status = "online";
          drawAlerts(device.open_alerts);
        }
        setLatest(data.metric, data);
        const s = charts.get(data.metric);
        if (s) {
          const t0 = Date.parse(data.time) / 1000;
          // keep the time axis ordered; a late reading shows on the next reload
          if (!s.times.length || t0 > s.times[s.times.length - 1]) {
            s.times.push(t0);
            s.values.push(data.value);
            window_.to = Math.max(window_.to, t0);
            window_.from = window_.to - RANGES[range].ms / 1000;
            while (s.times.length && s.times[0] < window_.from) {
              s.times.shift();
              s.values.shift();
            }
            redraw(data.metric);
          }
        }
      } else if (type === "status") {
        device.status = data.status;
        drawAlerts(device.open_alerts);
      } else if (type === "alert") {
        const rest = device.open_alerts.filter((a) => a.id !== data.id);
        drawAlerts(data.state === "resolved" ? rest : [data, ...rest].sort((a, b) => b.id - a.id));
      }
    },
    ctx.setLive,
  );

  return () => {
    stop();
    clearInterval(ticker);
    window.removeEventListener("resize", onResize);
    for (const s of charts.values()) s.view.destroy();
  };
}
