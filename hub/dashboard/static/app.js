// The dashboard's shell: language, the key form, the banner, the live indicator
// and the hash routes. Each view is a module with show(root, ctx) that returns a
// function to stop it.

import { ApiError, apiKey, get, hubConfig, setApiKey } from "./api.js";
import { setProfiles } from "./format.js";
import { language, load, setLanguage, t, translatePage } from "./i18n.js";

const views = {
  overview: () => import("./overview.js"),
  device: () => import("./device.js"),
  alerts: () => import("./alerts.js"),
  alert: () => import("./alert.js"),
  health: () => import("./health.js"),
  near: () => import("./near.js"),
  air: () => import("./air.js"),
};

const root = document.getElementById("view");
const banner = document.getElementById("banner");
const liveBadge = document.getElementById("live");
let stopView = () => {};
let config = { tile_url: null, tile_attribution: "", open_data: false, districts: false, timezone: "Europe/Oslo" };
let firstRender = true;

function say(message) {
  banner.textContent = message;
  banner.hidden = !message;
}

function setLive(state) {
  liveBadge.textContent = { live: t("live.live"), down: t("live.down"), closed: "" }[state] ?? state;
  liveBadge.dataset.state = state;
}

/** Tell the operator what a failed request means, in words. */
function explain(err) {
  console.error("view failed:", err);
  if (err instanceof ApiError && err.status === 401) say(t("error.needKey"));
  else if (err instanceof ApiError && err.status === 403) say(t("error.forbidden", { detail: err.message }));
  else say(t("error.load", { detail: err.message }));
}

function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  if (parts[0] === "device" && parts[1]) return ["device", { deviceId: parts[1] }];
  if (parts[0] === "alert" && parts[1]) return ["alert", { alertId: Number(parts[1]) }];
  if (views[parts[0]] && parts[0] !== "overview" && parts[0] !== "device" && parts[0] !== "alert") return [parts[0], {}];
  return ["overview", {}];
}

async function loadProfiles() {
  try {
    setProfiles(await get("/api/v1/profiles"));
  } catch {
    setProfiles([]); // the views report access problems
  }
}

async function render() {
  stopView();
  stopView = () => {};
  say("");
  const [name, args] = route();
  for (const a of document.querySelectorAll("[data-nav]")) {
    const active = a.dataset.nav === name || (name === "device" && a.dataset.nav === "overview") || (name === "alert" && a.dataset.nav === "alerts");
    a.classList.toggle("active", active);
    if (active) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  root.replaceChildren();
  root.dataset.view = name;
  root.removeAttribute("data-ready");
  document.title = `${t(`title.${name}`)} · ${t("app.brand")}`;
  const module = await views[name]();
  try {
    stopView = await module.show(root, { ...args, config, setLive, explain, say });
  } catch (err) {
    explain(err);
  }
  root.dataset.ready = "true";
  // a route change moves the keyboard to the new page's content
  if (!firstRender) root.focus({ preventScroll: true });
  firstRender = false;
}

function showKeyState() {
  const has = Boolean(apiKey());
  document.getElementById("key-state").textContent = has ? t("key.saved") : t("key.none");
  document.getElementById("key-forget").hidden = !has;
}

document.getElementById("key-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = document.getElementById("key-input");
  if (!input.value.trim()) return;
  setApiKey(input.value.trim());
  input.value = "";
  showKeyState();
  await loadProfiles();
  render();
});
document.getElementById("key-forget").addEventListener("click", () => {
  setApiKey("");
  showKeyState();
  render();
});

async function refreshAlertCount() {
  try {
    const page = await get("/api/v1/alerts", { state: "open", limit: 1000 });
    const n = page.items.length;
    const badge = document.getElementById("nav-alert-count");
    badge.textContent = n ? String(n) : "";
    badge.setAttribute("aria-label", n ? t("nav.openCount", { n }) : "");
  } catch {
    // the views report access problems
  }
}

(async () => {
  config = await hubConfig(config); // defaults: no tiles, no districts
  await load(undefined, config.timezone);
  translatePage();
  const select = document.getElementById("lang-select");
  select.value = language();
  select.addEventListener("change", async () => {
    setLanguage(select.value);
    await load(select.value, config.timezone);
    translatePage();
    showKeyState();
    render();
  });
  showKeyState();
  await loadProfiles();
  // routes are followed only once the catalogue is in
  window.addEventListener("hashchange", render);
  await render();
  refreshAlertCount();
  setInterval(refreshAlertCount, 15000);
})();
