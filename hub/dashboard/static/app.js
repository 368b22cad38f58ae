// The dashboard's shell: the key form, the banner, the live indicator and the
// hash routes (#/, #/device/<id>, #/alerts, #/air). Each view is a module with
// show(root, ctx) that returns a function to stop it.

import { ApiError, apiKey, get, setApiKey } from "./api.js";

const views = {
  overview: () => import("./overview.js"),
  device: () => import("./device.js"),
  alerts: () => import("./alerts.js"),
  air: () => import("./air.js"),
};

const root = document.getElementById("view");
const banner = document.getElementById("banner");
const liveBadge = document.getElementById("live");
let stopView = () => {};
let config = { tile_url: null, tile_attribution: "", open_data: false };

function say(message) {
  banner.textContent = message;
  banner.hidden = !message;
}

function setLive(state) {
  liveBadge.textContent = { live: "live", down: "reconnecting…", closed: "" }[state] ?? state;
  liveBadge.dataset.state = state;
}

/** Tell the operator what a failed request means, in words. */
function explain(err) {
  if (err instanceof ApiError && err.status === 401) {
    say("This hub needs an API key to read its data: paste a key above and save it.");
  } else if (err instanceof ApiError && err.status === 403) {
    say(`Not allowed with this key: ${err.message}. Operator actions need an operator key.`);
  } else {
    say(`Could not load data: ${err.message}`);
  }
}

function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  if (parts[0] === "device" && parts[1]) return ["device", { deviceId: parts[1] }];
  if (parts[0] === "alerts") return ["alerts", {}];
  if (parts[0] === "air") return ["air", {}];
  return ["overview", {}];
}

async function render() {
  stopView();
  stopView = () => {};
  say("");
  const [name, args] = route();
  for (const a of document.querySelectorAll("[data-nav]")) {
    a.classList.toggle("active", a.dataset.nav === name);
  }
  root.replaceChildren();
  root.dataset.view = name;
  const module = await views[name]();
  try {
    stopView = await module.show(root, { ...args, config, setLive, explain, say });
  } catch (err) {
    explain(err);
  }
}

function showKeyState() {
  const has = Boolean(apiKey());
  document.getElementById("key-state").textContent = has ? "Key saved" : "No key";
  document.getElementById("key-forget").hidden = !has;
}

document.getElementById("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = document.getElementById("key-input");
  if (!input.value.trim()) return;
  setApiKey(input.value.trim());
  input.value = "";
  showKeyState();
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
    document.getElementById("nav-alert-count").textContent = n ? String(n) : "";
  } catch {
    // the views report access problems
  }
}

window.addEventListener("hashchange", render);

(async () => {
  try {
    const response = await fetch("/dashboard/config.json");
    if (response.ok) config = await response.json();
  } catch {
    // defaults: no tiles
  }
  showKeyState();
  await render();
  refreshAlertCount();
  setInterval(refreshAlertCount, 15000);
})();
