// The dashboard's languages: one message catalogue per language (i18n/nb.json,
// i18n/en.json), Norwegian bokmål by default, the choice remembered per browser.
// Dates, times and numbers follow the chosen locale with a 24-hour clock in the
// hub's time zone (Europe/Oslo unless HUB_TIMEZONE says otherwise).

const KEY = "hub.lang";
export const LANGUAGES = { nb: "nb-NO", en: "en-GB" };

let lang = "nb";
let messages = {};
let timeZone = "Europe/Oslo";
// Keys asked for but missing from the catalogue; the browser tests fail on any.
const missing = new Set();
window.__missingKeys = missing;

export function language() {
  return lang;
}

export function locale() {
  return LANGUAGES[lang];
}

export function zone() {
  return timeZone;
}

/** Load the catalogue of the remembered language (or `wanted`). */
export async function load(wanted, zoneName) {
  const stored = localStorage.getItem(KEY);
  lang = wanted || (stored && LANGUAGES[stored] ? stored : "nb");
  if (zoneName) timeZone = zoneName;
  const response = await fetch(`/dashboard/i18n/${lang}.json`, { cache: "no-cache" });
  messages = await response.json();
  document.documentElement.lang = lang;
}

export function setLanguage(next) {
  if (!LANGUAGES[next]) return;
  localStorage.setItem(KEY, next);
}

/** The message `key` with `{name}` placeholders filled from `params`. */
export function t(key, params = {}) {
  let text = messages[key];
  if (text === undefined) {
    missing.add(key);
    console.error(`missing message ${lang}:${key}`);
    text = key;
  }
  return text.replace(/\{(\w+)\}/g, (_, name) => (params[name] === undefined ? `{${name}}` : String(params[name])));
}

/** Does the catalogue have `key`? (for optional families such as units) */
export function has(key) {
  return messages[key] !== undefined;
}

/** Fill every [data-i18n] element of the static page (index.html). */
export function translatePage(rootNode = document) {
  for (const node of rootNode.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of rootNode.querySelectorAll("[data-i18n-label]")) node.setAttribute("aria-label", t(node.dataset.i18nLabel));
  for (const node of rootNode.querySelectorAll("[data-i18n-placeholder]")) node.setAttribute("placeholder", t(node.dataset.i18nPlaceholder));
  for (const node of rootNode.querySelectorAll("[data-i18n-title]")) node.setAttribute("title", t(node.dataset.i18nTitle));
}

const formats = new Map();
function formatter(kind, options) {
  const id = `${lang}|${timeZone}|${kind}`;
  if (!formats.has(id)) {
    formats.set(id, new Intl.DateTimeFormat(locale(), { timeZone, hourCycle: "h23", ...options }));
  }
  return formats.get(id);
}

/** "01.12.2026, 14:05:09" in nb, "01/12/2026, 14:05:09" in en; 24-hour, local zone. */
export function dateTime(value, { seconds = true } = {}) {
  const options = { day: "2-digit", month: "2-digit", year: "numeric", hour: "2-digit", minute: "2-digit" };
  if (seconds) options.second = "2-digit";
  return formatter(seconds ? "dts" : "dt", options).format(new Date(value));
}

export function timeOfDay(value) {
  return formatter("t", { hour: "2-digit", minute: "2-digit" }).format(new Date(value));
}

export function dayAndMonth(value) {
  return formatter("dm", { day: "2-digit", month: "2-digit" }).format(new Date(value));
}

/** The zone's short name at `value` (CET/CEST in Norwegian and English alike). */
export function zoneName(value = Date.now()) {
  const parts = new Intl.DateTimeFormat("en-GB", { timeZone, timeZoneName: "short" }).formatToParts(new Date(value));
  const short = parts.find((p) => p.type === "timeZoneName")?.value ?? "";
  return `${timeZone} (${short})`;
}

/** The hour (0-23) and minute of `value` in the zone, for chart ticks. */
export function zonedParts(value) {
  const parts = formatter("hm", { hour: "2-digit", minute: "2-digit", day: "2-digit" }).formatToParts(new Date(value));
  const get = (type) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  return { hour: get("hour"), minute: get("minute"), day: get("day") };
}

export function number(value, digits) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  if (digits === undefined) {
    const abs = Math.abs(value);
    digits = abs >= 1000 ? 0 : abs >= 100 ? 1 : abs >= 1 ? 2 : 3;
  }
  return value.toLocaleString(locale(), { maximumFractionDigits: digits });
}
