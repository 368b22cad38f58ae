// Device page: latest values with units, a chart per metric over 1 h, 24 h, 7 d or
// 30 d (buckets for the long ranges), live readings from the stream, its alerts.

import { get, live } from "./api.js";
import { STATE_LABEL, ago, clock, el, label, number, unit } from "./format.js";

// Range -> how it is read: raw readings for the last hour, buckets after that, so no
// chart ever asks for more than a few hundred points per metric.
const RANGES = {
  "1h": { ms: 3600_000, bucket: null },
  "24h": { ms: 86400_000, bucket: "5m" },
  "7d": { ms: 7 * 86400_000, bucket: "1h" },
  "30d": { ms: 30 * 86400_000, bucket: "3h" },
};

function chartWidth(box) {
  return Math.max(280, Math.floor(box.getBoundingClientRect().width) - 2);
}

export async function show(root, ctx) {
  const id = ctx.deviceId;
  let range = sessionStorage.getItem("hub.range") || "1h";
  if (!RANGES[range]) range = "1h";
  const device = await get(`/api/v1/devices/${encodeURIComponent(id)}`);
  const metrics = device.metrics.filter((m) => m.type !== "bool" && m.type !== "boolean");
  const series = new Map(); // metric -> {times: [], values: [], plot, box}
  const latestCells = new Map();

  const status = el("span", { class: `badge state-${device.status === "offline" ? "offline" : "ok"}`, id: "device-status" });
  const alertsBox = el("ul", { class: "alert-list", id: "device-alerts" });
  const rangeButtons = el(
    "div",
    { class: "ranges", role: "group", "aria-label": "Time range" },
    Object.keys(RANGES).map((r) =>
      el("button", { type: "button", "data-range": r, text: r, onclick: () => setRange(r) }),
    ),
  );
  const latest = el("div", { class: "latest", id: "latest" });
  const charts = el("div", { class: "charts", id: "charts" });

  for (const m of device.metrics) {
    const value = el("strong", { class: "value" });
    const when = el("small", {});
    latestCells.set(m.name, { value, when, unit: m.unit });
    latest.append(
      el(
        "div",
        { class: "metric", "data-metric": m.name, title: m.description || "" },
        el("span", { class: "name", text: label(m.name) }),
        el("span", {}, value, m.unit ? el("span", { class: "unit", text: ` ${unit(m.unit)}` }) : null),
        when,
      ),
    );
    setLatest(m.name, m.latest);
  }

  root.append(
    el(
      "section",
      { class: "device-head" },
      el("a", { href: "#/", class: "back", text: "← Overview" }),
      el("h1", { text: device.name ? `${device.device_id} · ${device.name}` : device.device_id }),
      status,
      el(
        "span",
        { class: "meta" },
        `${label(device.profile)} · ${device.district || "no district"} · last seen `,
        el("span", { id: "last-seen", text: ago(device.last_seen) }),
      ),
      rangeButtons,
    ),
    el("section", { class: "device-body" }, el("div", { class: "main" }, latest, charts), el("aside", { class: "side" }, el("h2", { text: "Open alerts" }), alertsBox)),
  );

  function setLatest(name, point) {
    const cell = latestCells.get(name);
    if (!cell) return;
    cell.value.textContent = point ? number(point.value) : "–";
    cell.when.textContent = point ? clock(point.time) : "no reading yet";
  }

  function drawAlerts(list) {
    device.open_alerts = list;
    const has = list.length > 0;
    const s = device.status === "offline" ? "offline" : has ? "alert" : "ok";
    status.className = `badge state-${s}`;
    status.textContent = STATE_LABEL[s];
    alertsBox.replaceChildren(
      ...(has
        ? list.map((a) =>
            el(
              "li",
              { class: `sev-${a.severity}` },
              el("b", { text: `${a.severity} · ${label(a.rule_name)}` }),
              el("span", { text: a.message }),
              el("small", { text: `${a.state} · opened ${clock(a.opened_at)}` }),
            ),
          )
        : [el("li", { class: "quiet", text: "No open alerts." })]),
    );
  }
  drawAlerts(device.open_alerts);

  function makeChart(m) {
    const box = el("div", { class: "chart", "data-chart": m.name });
    const title = el("h3", {}, label(m.name), m.unit ? el("small", { text: ` (${unit(m.unit)})` }) : null);
    charts.append(el("div", { class: "chart-card" }, title, box));
    const plot = new uPlot(
      {
        width: chartWidth(charts) / (metrics.length > 1 ? 2 : 1) - 24,
        height: 170,
        legend: { show: false },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true } },
        series: [{}, { label: m.name, stroke: "#1565c0", width: 2, fill: "rgba(21,101,192,0.08)", spanGaps: false }],
        axes: [{ stroke: "#333" }, { stroke: "#333", size: 56 }],
      },
      [[], []],
      box,
    );
    return { times: [], values: [], plot, box };
  }

  function redraw(name) {
    const s = series.get(name);
    s.plot.setData([s.times, s.values]);
    s.box.dataset.points = String(s.times.length);
  }

  async function loadRange() {
    const spec = RANGES[range];
    for (const b of rangeButtons.children) b.classList.toggle("active", b.dataset.range === range);
    const to = new Date(Date.now() + 60_000);
    const from = new Date(to.getTime() - spec.ms - 60_000);
    const params = { from: from.toISOString(), to: to.toISOString(), metric: metrics.map((m) => m.name) };
    if (spec.bucket) Object.assign(params, { bucket: spec.bucket, agg: "avg" });
    const body = metrics.length ? await get(`/api/v1/devices/${encodeURIComponent(id)}/readings`, params) : { readings: [] };
    for (const s of series.values()) {
      s.times.length = 0;
      s.values.length = 0;
    }
    for (const r of body.readings) {
      const s = series.get(r.metric);
      if (!s) continue;
      s.times.push(Date.parse(r.time) / 1000);
      s.values.push(r.value);
    }
    for (const name of series.keys()) redraw(name);
  }

  function setRange(r) {
    range = r;
    sessionStorage.setItem("hub.range", r);
    loadRange().catch(ctx.explain);
  }

  for (const m of metrics) series.set(m.name, makeChart(m));
  if (!metrics.length) charts.append(el("p", { class: "quiet", text: "This device has no numeric metrics to chart." }));
  await loadRange();

  const onResize = () => {
    const w = chartWidth(charts) / (metrics.length > 1 ? 2 : 1) - 24;
    for (const s of series.values()) s.plot.setSize({ width: w, height: 170 });
  };
  window.addEventListener("resize", onResize);

  const ticker = setInterval(() => {
    document.getElementById("last-seen").textContent = ago(device.last_seen);
  }, 5000);

  const stop = live(
    { device: id },
    (type, data) => {
      if (type === "reading") {
        device.last_seen = data.time;
        setLatest(data.metric, data);
        const s = series.get(data.metric);
        if (s) {
          const t = Date.parse(data.time) / 1000;
          // keep the time axis ordered; a late reading shows on the next reload
          if (!s.times.length || t > s.times[s.times.length - 1]) {
            s.times.push(t);
            s.values.push(data.value);
            const oldest = t - RANGES[range].ms / 1000;
            while (s.times.length && s.times[0] < oldest) {
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
    for (const s of series.values()) s.plot.destroy();
  };
}
