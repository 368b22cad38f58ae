// Fleet health: every device by last-seen age, battery level and (when the
// network server reports it) radio link quality, sortable, worst first: what a
// field crew plans its week from. From /api/v1/devices, the open alerts and
// /api/v1/readings/latest for battery, lora_rssi and lora_snr.

import { all } from "./api.js";
import { ageSeconds, deviceState, duration, el, number, profileLabel, stateBadge } from "./format.js";
import { t } from "./i18n.js";

// column -> how to read it and which end is worst (a lower battery, an older
// report, a weaker signal)
const COLUMNS = {
  device: { value: (d) => d.device_id, worst: "asc", text: true },
  district: { value: (d) => d.district || "", worst: "asc", text: true },
  status: { value: (d) => ({ offline: 0, unknown: 1, ok: 2, alert: 1 })[d.state], worst: "asc" },
  age: { value: (d) => ageSeconds(d.last_seen), worst: "desc" },
  battery: { value: (d) => d.battery?.value ?? null, worst: "asc" },
  rssi: { value: (d) => d.lora_rssi?.value ?? null, worst: "asc" },
  snr: { value: (d) => d.lora_snr?.value ?? null, worst: "asc" },
};

export async function show(root, ctx) {
  let sort = sessionStorage.getItem("hub.health.sort") || "age";
  if (!COLUMNS[sort]) sort = "age";
  let direction = sessionStorage.getItem("hub.health.dir") || COLUMNS[sort].worst;
  const body = el("tbody", {});
  const head = el("tr", {});
  const summary = el("p", { class: "quiet", id: "health-summary", role: "status" });
  const table = el("table", { class: "health", id: "health" }, el("caption", { class: "sr-only", text: t("health.caption") }), el("thead", {}, head), body);
  root.append(el("section", { class: "page" }, el("h1", { text: t("title.health") }), summary, el("div", { class: "table-wrap" }, table)));
  let rows = [];

  function compare(a, b) {
    const col = COLUMNS[sort];
    const x = col.value(a);
    const y = col.value(b);
    // devices without the figure go last whichever way the column is sorted
    if (x === null && y === null) return a.device_id.localeCompare(b.device_id);
    if (x === null) return 1;
    if (y === null) return -1;
    const order = col.text ? String(x).localeCompare(String(y), "nb") : x - y;
    return (direction === "asc" ? order : -order) || a.device_id.localeCompare(b.device_id);
  }

  function header() {
    head.replaceChildren(
      ...Object.keys(COLUMNS).map((name) => {
        const active = name === sort;
        const button = el(
          "button",
          { type: "button", class: "sort", "data-sort": name },
          t(`health.${name}`),
          active ? el("span", { "aria-hidden": "true", text: direction === "asc" ? " ▲" : " ▼" }) : null,
        );
        button.addEventListener("click", () => {
          if (sort === name) direction = direction === "asc" ? "desc" : "asc";
          else [sort, direction] = [name, COLUMNS[name].worst];
          sessionStorage.setItem("hub.health.sort", sort);
          sessionStorage.setItem("hub.health.dir", direction);
          draw();
          head.querySelector(`[data-sort='${name}']`)?.focus();
        });
        return el("th", { scope: "col", "aria-sort": active ? (direction === "asc" ? "ascending" : "descending") : "none" }, button);
      }),
    );
  }

  function figure(reading, unit, digits) {
    return reading ? `${number(reading.value, digits)} ${unit}` : "–";
  }

  function draw() {
    header();
    rows.sort(compare);
    const withLink = rows.filter((d) => d.lora_rssi).length;
    summary.textContent = rows.length
      ? t("health.summary", {
          n: rows.length,
          silent: rows.filter((d) => d.state === "offline").length,
          low: rows.filter((d) => d.battery && d.battery.value < 20).length,
          radio: withLink,
        })
      : t("health.empty");
    body.replaceChildren(
      ...rows.map((d) =>
        el(
          "tr",
          { "data-device": d.device_id },
          el("th", { scope: "row" }, el("a", { href: `#/device/${encodeURIComponent(d.device_id)}`, text: d.device_id }), el("small", { text: ` ${profileLabel(d.profile)}` })),
          el("td", { text: d.district || "–" }),
          el("td", {}, stateBadge(d.state)),
          el("td", { "data-age": String(Math.round(ageSeconds(d.last_seen))) }, d.last_seen ? duration(ageSeconds(d.last_seen)) : t("time.never")),
          el("td", { class: d.battery && d.battery.value < 20 ? "low" : "" }, figure(d.battery, "%", 0)),
          el("td", {}, figure(d.lora_rssi, "dBm", 0)),
          el("td", {}, figure(d.lora_snr, "dB", 1)),
        ),
      ),
    );
  }

  async function load() {
    const [devices, open, latest] = await Promise.all([
      all("/api/v1/devices", { limit: 1000 }),
      all("/api/v1/alerts", { state: "open", limit: 1000 }),
      all("/api/v1/readings/latest", { metric: ["battery", "lora_rssi", "lora_snr"], limit: 1000 }),
    ]);
    const alerting = new Set(open.map((a) => a.device_id));
    const values = new Map(latest.map((d) => [d.device_id, d.values]));
    rows = devices.map((d) => {
      const v = values.get(d.device_id) || {};
      return { ...d, battery: v.battery, lora_rssi: v.lora_rssi, lora_snr: v.lora_snr, state: deviceState(d, alerting) };
    });
    draw();
  }

  await load();
  const timer = setInterval(() => load().catch(ctx.explain), 60000);
  return () => clearInterval(timer);
}
