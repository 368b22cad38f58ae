// One alert: what fired, its history and notes, assignment, acknowledge and
// resolve, and the readings around it with the rule's threshold drawn.

import { apiKey, get, live, post } from "./api.js";
import { assignAlert, severityTag } from "./alerts.js";
import { chart } from "./chart.js";
import { alertStateLabel, clock, el, metricLabel, metricUnit, valueText } from "./format.js";
import { t, zoneName } from "./i18n.js";

const MARGIN_S = 3600; // readings an hour either side of the alert

/** The lines a rule draws on its chart: its above/below limits. */
function thresholds(rule) {
  const p = rule?.parameters || {};
  const lines = [];
  for (const [key, word] of [["above", "chart.above"], ["below", "chart.below"], ["power_below", "chart.below"]]) {
    if (typeof p[key] === "number") lines.push({ value: p[key], label: t(word, { value: p[key] }) });
  }
  return lines;
}

export async function show(root, ctx) {
  let alert = await get(`/api/v1/alerts/${ctx.alertId}`);
  const rule = await get(`/api/v1/rules/${alert.rule_id}`).catch(() => null);
  const metric = rule?.metric || null;
  const facts = el("dl", { class: "facts", id: "alert-facts" });
  const history = el("ol", { class: "history", id: "alert-history" });
  const notes = el("ul", { class: "notes", id: "alert-notes" });
  const actions = el("div", { class: "actions" });
  const noteInput = el("textarea", { id: "note-text", rows: "2", "aria-label": t("alert.noteLabel") });
  const noteForm = el(
    "form",
    { class: "note-form", id: "note-form" },
    el("label", { for: "note-text", text: t("alert.noteLabel") }),
    noteInput,
    el("button", { type: "submit", id: "note-save", text: t("alert.addNote") }),
  );
  const chartBox = el("div", { class: "chart", "data-chart": metric || "none", id: "alert-chart" });
  const head = el("section", { class: "device-head" });

  root.append(
    el(
      "section",
      { class: "page alert-page" },
      head,
      el(
        "div",
        { class: "alert-body" },
        el(
          "div",
          { class: "main" },
          facts,
          el(
            "div",
            { class: "chart-card" },
            el("h2", {}, metric ? metricLabel(alert.profile, metric) : t("alert.noMetric"), " ", el("small", { text: t("device.zone", { zone: zoneName() }) })),
            chartBox,
          ),
        ),
        el(
          "aside",
          { class: "side", "aria-label": t("alert.work") },
          el("h2", { text: t("alert.work") }),
          actions,
          el("h2", { text: t("alert.notes") }),
          notes,
          noteForm,
          el("h2", { text: t("alert.history") }),
          history,
        ),
      ),
    ),
  );

  function fact(name, value) {
    return [el("dt", { text: name }), el("dd", {}, value)];
  }

  function draw() {
    head.replaceChildren(
      el("a", { href: "#/alerts", class: "back", text: `← ${t("title.alerts")}` }),
      el("h1", { text: t("alert.title", { id: alert.id, rule: alert.rule_name }) }),
      severityTag(alert.severity),
      el("span", { class: "state", id: "alert-state", "data-state": alert.state, text: alertStateLabel(alert.state) }),
    );
    facts.replaceChildren(
      ...fact(t("alert.device"), el("a", { href: `#/device/${encodeURIComponent(alert.device_id)}`, text: alert.device_id })),
      ...fact(t("filter.district"), alert.district || t("device.noDistrict")),
      ...fact(t("alert.message"), alert.message),
      ...fact(t("alert.value"), metric && alert.value !== null ? valueText(alert.profile, metric, alert.value) : "–"),
      ...fact(t("alert.opened"), clock(alert.opened_at)),
      ...fact(t("filter.assignee"), alert.assignee || t("inbox.unassigned")),
      ...(alert.resolved_at ? fact(t("alertState.resolved"), clock(alert.resolved_at)) : []),
    );
    history.replaceChildren(
      ...alert.history.map((h) =>
        el("li", {}, `${clock(h.at)} · ${alertStateLabel(h.state)} · ${h.actor}`, h.note ? ` · ${h.note}` : ""),
      ),
    );
    const list = alert.notes || [];
    notes.replaceChildren(
      ...(list.length
        ? list.map((n) => el("li", { "data-note": String(n.id) }, el("small", { text: `${clock(n.at)} · ${n.author}` }), el("p", { text: n.text })))
        : [el("li", { class: "quiet empty", text: t("alert.noNotes") })]),
    );
    const ack = el("button", { type: "button", class: "ack", text: t("inbox.ack"), disabled: alert.state !== "open" });
    const resolve = el("button", { type: "button", class: "resolve", text: t("inbox.resolve"), disabled: alert.state === "resolved" });
    ack.addEventListener("click", () => act("acknowledge"));
    resolve.addEventListener("click", () => act("resolve"));
    const who = el("input", { type: "text", id: "assignee", value: alert.assignee || "", placeholder: t("inbox.assignPlaceholder") });
    const assign = el(
      "form",
      { class: "assign", id: "assign-form" },
      el("label", { for: "assignee", text: t("filter.assignee") }),
      who,
      el("button", { type: "submit", text: t("inbox.assign") }),
    );
    assign.addEventListener("submit", async (event) => {
      event.preventDefault();
      const updated = await assignAlert(alert, who.value.trim(), ctx);
      if (updated) await reload();
    });
    actions.replaceChildren(el("div", { class: "buttons" }, ack, resolve), assign);
  }

  async function reload() {
    alert = await get(`/api/v1/alerts/${ctx.alertId}`);
    draw();
  }

  async function act(action) {
    if (!apiKey()) return ctx.say(t("inbox.needsKey"));
    try {
      await post(`/api/v1/alerts/${alert.id}/${action}`, {});
      ctx.say("");
      await reload();
    } catch (err) {
      ctx.explain(err);
    }
  }

  noteForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = noteInput.value.trim();
    if (!text) return;
    if (!apiKey()) return ctx.say(t("inbox.needsKey"));
    try {
      await post(`/api/v1/alerts/${alert.id}/notes`, { text });
      noteInput.value = "";
      ctx.say("");
      await reload();
    } catch (err) {
      ctx.explain(err);
    }
  });

  draw();

  let view = null;
  if (metric) {
    const opened = Date.parse(alert.opened_at) / 1000;
    const end = alert.resolved_at ? Date.parse(alert.resolved_at) / 1000 : Date.now() / 1000;
    const from = opened - MARGIN_S;
    const to = Math.min(Date.now() / 1000, end + MARGIN_S);
    const width = Math.max(260, Math.floor(chartBox.getBoundingClientRect().width) - 8);
    view = chart(chartBox, { profile: alert.profile, metric, width, height: 220, thresholds: thresholds(rule) });
    const span = to - from;
    const params = {
      from: new Date(from * 1000).toISOString(),
      to: new Date((to + 60) * 1000).toISOString(),
      metric,
    };
    if (span > 6 * 3600) Object.assign(params, { bucket: span > 3 * 86400 ? "1h" : "5m", agg: "avg" });
    const body = await get(`/api/v1/devices/${encodeURIComponent(alert.device_id)}/readings`, params);
    const times = [];
    const values = [];
    for (const r of body.readings) {
      if (r.value === null) continue;
      times.push(Date.parse(r.time) / 1000);
      values.push(r.value);
    }
    view.setData(times, values, from, to);
    view.empty(times.length ? "" : t("alert.noReadings"));
    chartBox.dataset.thresholds = String(thresholds(rule).length);
    const unit = metricUnit(alert.profile, metric);
    chartBox.dataset.unit = unit;
  } else {
    chartBox.append(el("p", { class: "quiet empty", text: t("alert.noMetricWhy") }));
  }

  const stop = live(
    { type: "alert", device: alert.device_id },
    (type, data) => {
      if (type === "alert" && data.id === alert.id) reload().catch(ctx.explain);
    },
    ctx.setLive,
  );
  return () => {
    stop();
    view?.destroy();
  };
}
