// Small helpers shared by the pages: element building, numbers, times, states.

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

export function number(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  const abs = Math.abs(value);
  const digits = abs >= 1000 ? 0 : abs >= 100 ? 1 : abs >= 1 ? 2 : 3;
  return value.toLocaleString("en-GB", { maximumFractionDigits: digits });
}

export function ago(iso) {
  if (!iso) return "never";
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (s < 5) return "just now";
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 129600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

export function clock(iso) {
  return new Date(iso).toLocaleString("en-GB", {
    day: "2-digit",
    month: "short",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
}

export const STATE_LABEL = { ok: "OK", alert: "Alert", offline: "Offline", unknown: "No status" };

/** The map state of a device: offline wins, then an unresolved alert, else ok. */
export function deviceState(device, alerting) {
  if (device.status === "offline") return "offline";
  if (alerting.has(device.device_id)) return "alert";
  if (device.status === "unknown" && !device.last_seen) return "unknown";
  return "ok";
}

const NAMES = { pm10: "PM10", pm25: "PM2.5", no2: "NO₂", o3: "O₃", co2: "CO₂" };
// SenML unit symbols as people write them.
const UNITS = { Cel: "°C", "ug/m3": "µg/m³", m3: "m³", "%EL": "%", "%RH": "% RH", "m3/s": "m³/s" };

/** A metric, rule or profile name for people: "lamp_on" -> "Lamp on", "no2" -> "NO₂". */
export function label(name) {
  if (NAMES[name]) return NAMES[name];
  const words = name.replaceAll("_", " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export function unit(symbol) {
  return symbol ? UNITS[symbol] ?? symbol : "";
}
