// Alert inbox: unresolved alerts newest first; acknowledge and resolve with the
// operator key; the list follows the live stream.

import { all, apiKey, post, live } from "./api.js";
import { ago, clock, el, label, number } from "./format.js";

export async function show(root, ctx) {
  const list = el("ul", { class: "inbox", id: "inbox" });
  const summary = el("p", { class: "quiet", id: "inbox-summary" });
  root.append(el("section", { class: "page" }, el("h1", { text: "Alert inbox" }), summary, list));

  async function act(alert, action, button) {
    if (!apiKey()) {
      ctx.say("Acknowledging and resolving need an operator key: paste one above and save it.");
      return;
    }
    button.disabled = true;
    try {
      const updated = await post(`/api/v1/alerts/${alert.id}/${action}`, {});
      ctx.say("");
      apply(updated);
    } catch (err) {
      ctx.explain(err);
      button.disabled = false;
    }
  }

  let alerts = [];

  function draw() {
    alerts.sort((a, b) => b.id - a.id);
    const open = alerts.filter((a) => a.state === "open").length;
    summary.textContent = alerts.length
      ? `${open} open, ${alerts.length - open} acknowledged.`
      : "No open alerts.";
    list.replaceChildren(
      ...alerts.map((a) => {
        const ack = el("button", { type: "button", class: "ack", text: "Acknowledge", disabled: a.state !== "open" });
        const resolve = el("button", { type: "button", class: "resolve", text: "Resolve" });
        ack.addEventListener("click", () => act(a, "acknowledge", ack));
        resolve.addEventListener("click", () => act(a, "resolve", resolve));
        return el(
          "li",
          { class: `alert sev-${a.severity} state-${a.state}`, "data-alert-id": String(a.id), "data-device": a.device_id, "data-state": a.state },
          el("span", { class: `sev sev-${a.severity}`, text: a.severity }),
          el(
            "div",
            { class: "what" },
            el("b", {}, el("a", { href: `#/device/${encodeURIComponent(a.device_id)}`, text: a.device_id }), ` · ${label(a.rule_name)}`),
            el("span", { text: a.message + (a.value !== null && a.value !== undefined ? ` (value ${number(a.value)})` : "") }),
            el(
              "small",
              { title: clock(a.opened_at) },
              `${a.district || "no district"} · opened ${ago(a.opened_at)}`,
              a.state === "acknowledged" ? ` · acknowledged by ${a.acknowledged_by || "?"}` : "",
            ),
          ),
          el("span", { class: "state", text: a.state }),
          el("span", { class: "actions" }, ack, resolve),
        );
      }),
    );
  }

  function apply(alert) {
    alerts = alerts.filter((a) => a.id !== alert.id);
    if (alert.state !== "resolved") alerts.push(alert);
    draw();
  }

  async function load() {
    const [open, acked] = await Promise.all([
      all("/api/v1/alerts", { state: "open", limit: 1000 }),
      all("/api/v1/alerts", { state: "acknowledged", limit: 1000 }),
    ]);
    alerts = [...open, ...acked];
    draw();
  }

  await load();
  const ticker = setInterval(draw, 30000); // keeps "opened … ago" true
  const stop = live({ type: "alert" }, (type, data) => type === "alert" && apply(data), ctx.setLive);
  return () => {
    stop();
    clearInterval(ticker);
  };
}
