// Small helpers shared by the pages: element building, times, states, and the
// names and units of metrics as the device profiles give them in each language.

import { dateTime, has, language, number, t } from "./i18n.js";

export { number };

/** Build an element: el("div", {class: "x", text: "y"}, child, ...). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** "12 s ago" / "for 12 s siden"; the seconds since `iso` when asked. */
export function ageSeconds(iso) {
  return iso ? Math.max(0, (Date.now() - Date.parse(iso)) / 1000) : Infinity;
}

export function ago(iso) {
  if (!iso) return t("time.never");
  const s = Math.round(ageSeconds(iso));
  if (s < 5) return t("time.justNow");
  if (s < 90) return t("time.secondsAgo", { n: s });
  if (s < 5400) return t("time.minutesAgo", { n: Math.round(s / 60) });
  if (s < 129600) return t("time.hoursAgo", { n: Math.round(s / 3600) });
  return t("time.daysAgo", { n: Math.round(s / 86400) });
}

/** A length of time in words: "3 min", "2 h", "4 d". */
export function duration(seconds) {
  if (!Number.isFinite(seconds)) return t("time.never");
  if (seconds < 90) return t("time.seconds", { n: Math.round(seconds) });
  if (seconds < 5400) return t("time.minutes", { n: Math.round(seconds / 60) });
  if (seconds < 129600) return t("time.hours", { n: Math.round(seconds / 3600) });
  return t("time.days", { n: Math.round(seconds / 86400) });
}

export function clock(iso) {
  return iso ? dateTime(iso) : "–";
}

export const STATES = ["ok", "alert", "offline", "unknown"];
// The shape beside each state's colour, so colour never carries the meaning alone.
export const STATE_SHAPE = { ok: "●", alert: "▲", offline: "■", unknown: "◆" };

export function stateLabel(state) {
  return t(`state.${state}`);
}

/** A status badge: shape and word, coloured. */
export function stateBadge(state, attrs = {}) {
  return el(
    "span",
    { class: `badge state-${state}`, "data-state": state, ...attrs },
    el("span", { class: "shape", "aria-hidden": "true", text: STATE_SHAPE[state] }),
    ` ${stateLabel(state)}`,
  );
}

/** The map state of a device: offline wins, then an unresolved alert, else ok. */
export function deviceState(device, alerting) {
  if (device.status === "offline") return "offline";
  if (alerting.has(device.device_id)) return "alert";
  if (device.status === "unknown" && !device.last_seen) return "unknown";
  return "ok";
}

export function severityLabel(severity) {
  return t(`severity.${severity}`);
}

export function alertStateLabel(state) {
  return t(`alertState.${state}`);
}

// The profiles as the API gives them (labels and units in each language).
let profiles = {};
export function setProfiles(list) {
  profiles = Object.fromEntries(list.map((p) => [p.name, p]));
}

function humanize(name) {
  const words = name.replaceAll("_", " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** A profile's name for people, in the chosen language. */
export function profileLabel(name) {
  return has(`profile.${name}`) ? t(`profile.${name}`) : humanize(name);
}

function metricOf(profile, metric) {
  return profiles[profile]?.metrics?.[metric];
}

/** A metric's name from its profile, in the chosen language. */
export function metricLabel(profile, metric) {
  const m = metricOf(profile, metric);
  return m?.label?.[language()] ?? m?.label?.en ?? humanize(metric);
}

/** A metric's unit for people, from its profile (SenML code as fallback). */
export function metricUnit(profile, metric) {
  const m = metricOf(profile, metric);
  if (!m) return "";
  const shown = m.unit_label?.[language()];
  if (shown !== undefined) return shown;
  return m.unit === "1" ? "" : m.unit;
}

export function profileInfo(name) {
  return profiles[name];
}

export function metricInfo(profile, metric) {
  return metricOf(profile, metric);
}

/** A value with its unit: "20 °C", "På". Booleans read as words. */
export function valueText(profile, metric, value) {
  if (value === null || value === undefined) return "–";
  const m = metricOf(profile, metric);
  if (m?.type === "bool") return value ? t("value.on") : t("value.off");
  const u = metricUnit(profile, metric);
  return u ? `${number(value)} ${u}` : number(value);
}

/** Distance in metres for people: "350 m", "2,4 km". */
export function distance(metres) {
  return metres < 1000 ? `${number(Math.round(metres), 0)} m` : `${number(metres / 1000, 1)} km`;
}

/** Great-circle distance in metres (haversine). */
export function haversine(lat1, lon1, lat2, lon2) {
  const rad = Math.PI / 180;
  const dlat = (lat2 - lat1) * rad;
  const dlon = (lon2 - lon1) * rad;
  const a = Math.sin(dlat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dlon / 2) ** 2;
  return 2 * 6371008.8 * Math.asin(Math.sqrt(a));
}
