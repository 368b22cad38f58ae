// Alert inbox: unresolved alerts newest first, filtered by severity, profile,
// district and assignee (remembered per tab); acknowledge, resolve and assign with
// the operator key; CSV export of what the filters show; follows the live stream.

import { all, apiKey, download, live, post } from "./api.js";
import { ago, alertStateLabel, clock, el, profileLabel, severityLabel } from "./format.js";
import { t } from "./i18n.js";

const SEVERITIES = ["critical", "warning", "info"];
const FILTERS = ["severity", "profile", "district", "assignee"];
export const UNASSIGNED = "-"; // the assignee filter's "nobody"

export function severityTag(severity) {
  const shape = { critical: "▲", warning: "◆", info: "●" }[severity];
  return el(
    "span",
    { class: `sev sev-${severity}` },
    el("span", { "aria-hidden": "true", text: `${shape} ` }),
    severityLabel(severity),
  );
}

/** Assign `alert` to the name asked for; returns the updated alert or null. */
export async function assignAlert(alert, name, ctx) {
  if (!apiKey()) {
    ctx.say(t("inbox.needsKey"));
    return null;
  }
  try {
    const updated = await post(`/api/v1/alerts/${alert.id}/assign`, { assignee: name || null });
    ctx.say("");
    return updated;
  } catch (err) {
    ctx.explain(err);
    return null;
  }
}

export async function show(root, ctx) {
  const list = el("ul", { class: "inbox", id: "inbox", "aria-label": t("inbox.list") });
  const summary = el("p", { class: "quiet", id: "inbox-summary", role: "status" });
  const chosen = Object.fromEntries(FILTERS.map((f) => [f, sessionStorage.getItem(`hub.inbox.${f}`) || ""]));
  const selects = Object.fromEntries(FILTERS.map((f) => [f, el("select", { id: `inbox-${f}` })]));
  const exportButton = el("button", { type: "button", id: "inbox-export", class: "button", text: t("inbox.export") });
  const names = el("datalist", { id: "assignees" });
  // the filters fold away on a phone, so the alerts come first
  const tools = el(
    "details",
    { class: "inbox-filters", id: "inbox-filters", open: window.innerWidth > 600 },
    el("summary", { text: t("inbox.filters") }),
    el(
      "div",
      { class: "inbox-tools" },
      FILTERS.map((f) => el("label", {}, `${t(`filter.${f}`)} `, selects[f])),
      exportButton,
    ),
  );
  root.append(
    el(
      "section",
      { class: "page" },
      el("h1", { text: t("title.alerts") }),
      tools,
      summary,
      names,
      list,
    ),
  );

  async function act(alert, action, button) {
    if (!apiKey()) {
      ctx.say(t("inbox.needsKey"));
      return;
    }
    // not disabled while it works: a disabled button would drop the keyboard focus
    if (button.getAttribute("aria-busy") === "true") return;
    button.setAttribute("aria-busy", "true");
    try {
      const updated = await post(`/api/v1/alerts/${alert.id}/${action}`, {});
      ctx.say("");
      apply(updated);
    } catch (err) {
      ctx.explain(err);
    } finally {
      button.removeAttribute("aria-busy");
    }
  }

  let alerts = [];

  function options(f, values, text) {
    const current = chosen[f];
    const extra = f === "assignee" ? [el("option", { value: UNASSIGNED, text: t("inbox.unassigned"), selected: current === UNASSIGNED })] : [];
    selects[f].replaceChildren(
      el("option", { value: "", text: t(`filter.all.${f}`) }),
      ...extra,
      ...values.map((v) => el("option", { value: v, text: text(v), selected: v === current })),
    );
  }

  function fillFilters() {
    const uniq = (key) => [...new Set(alerts.map((a) => a[key]).filter(Boolean))].sort((a, b) => a.localeCompare(b, "nb"));
    options("severity", SEVERITIES, severityLabel);
    options("profile", uniq("profile"), profileLabel);
    options("district", uniq("district"), (v) => v);
    const people = uniq("assignee");
    options("assignee", people, (v) => v);
    names.replaceChildren(...people.map((p) => el("option", { value: p })));
  }

  function matches(a) {
    if (chosen.severity && a.severity !== chosen.severity) return false;
    if (chosen.profile && a.profile !== chosen.profile) return false;
    if (chosen.district && a.district !== chosen.district) return false;
    if (chosen.assignee === UNASSIGNED) return !a.assignee;
    if (chosen.assignee && a.assignee !== chosen.assignee) return false;
    return true;
  }

  function assignForm(a) {
    const input = el("input", {
      type: "text",
      list: "assignees",
      value: a.assignee || "",
      "aria-label": t("inbox.assignTo", { id: a.id }),
      placeholder: t("inbox.assignPlaceholder"),
      class: "assignee-input",
    });
    const form = el(
      "form",
      { class: "assign" },
      input,
      el("button", { type: "submit", class: "assign-save", text: t("inbox.assign") }),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const updated = await assignAlert(a, input.value.trim(), ctx);
      if (updated) apply(updated);
    });
    return form;
  }

  function draw() {
    // a redraw keeps the keyboard where it was (and a half-typed assignee)
    const focused = list.contains(document.activeElement) ? document.activeElement : null;
    const keep = focused && {
      id: focused.closest("li")?.dataset.alertId,
      cls: focused.classList[0],
      value: focused.tagName === "INPUT" ? focused.value : null,
    };
    alerts.sort((a, b) => b.id - a.id);
    const shown = alerts.filter(matches);
    const open = shown.filter((a) => a.state === "open").length;
    summary.textContent = alerts.length
      ? t("inbox.summary", { open, acked: shown.length - open, hidden: alerts.length - shown.length })
      : t("inbox.empty");
    list.replaceChildren(
      ...shown.map((a) => {
        const ack = el("button", {
          type: "button",
          class: "ack",
          text: t("inbox.ack"),
          "aria-label": t("inbox.ackFor", { id: a.id, device: a.device_id }),
          disabled: a.state !== "open",
        });
        const resolve = el("button", {
          type: "button",
          class: "resolve",
          text: t("inbox.resolve"),
          "aria-label": t("inbox.resolveFor", { id: a.id, device: a.device_id }),
        });
        ack.addEventListener("click", () => act(a, "acknowledge", ack));
        resolve.addEventListener("click", () => act(a, "resolve", resolve));
        return el(
          "li",
          { class: `alert sev-${a.severity} state-${a.state}`, "data-alert-id": String(a.id), "data-device": a.device_id, "data-state": a.state },
          severityTag(a.severity),
          el(
            "div",
            { class: "what" },
            el("b", {}, el("a", { class: "open-alert", href: `#/alert/${a.id}`, text: `${a.device_id} · ${a.rule_name}` })),
            el("span", { text: a.message }),
            el(
              "small",
              { title: clock(a.opened_at) },
              `${a.district || t("device.noDistrict")} · ${t("alert.opened")} ${ago(a.opened_at)}`,
              a.state === "acknowledged" ? ` · ${t("inbox.ackedBy", { who: a.acknowledged_by || "?" })}` : "",
              a.assignee ? ` · ${t("inbox.assignedTo", { who: a.assignee })}` : "",
            ),
          ),
          el("span", { class: "state", text: alertStateLabel(a.state) }),
          el("span", { class: "actions" }, ack, resolve, assignForm(a)),
        );
      }),
    );
    if (alerts.length && !shown.length) list.append(el("li", { class: "quiet empty", text: t("inbox.noneMatch") }));
    if (keep?.id && keep.cls) {
      const again = list.querySelector(`li[data-alert-id='${keep.id}'] .${keep.cls}`);
      if (again && !again.disabled) {
        if (keep.value !== null) again.value = keep.value;
        again.focus();
      } else list.querySelector(`li[data-alert-id='${keep.id}'] .open-alert`)?.focus();
    }
  }

  for (const f of FILTERS) {
    selects[f].addEventListener("change", () => {
      chosen[f] = selects[f].value;
      sessionStorage.setItem(`hub.inbox.${f}`, chosen[f]);
      draw();
    });
  }

  exportButton.addEventListener("click", async () => {
    const params = { severity: chosen.severity, profile: chosen.profile, district: chosen.district };
    if (chosen.assignee === UNASSIGNED) params.unassigned = "true";
    else params.assignee = chosen.assignee;
    try {
      await download("/api/v1/alerts/export.csv", params, "varsler.csv");
    } catch (err) {
      ctx.explain(err);
    }
  });

  function apply(alert) {
    alerts = alerts.filter((a) => a.id !== alert.id);
    if (alert.state !== "resolved") alerts.push(alert);
    fillFilters();
    draw();
  }

  async function load() {
    const [open, acked] = await Promise.all([
      all("/api/v1/alerts", { state: "open", limit: 1000 }),
      all("/api/v1/alerts", { state: "acknowledged", limit: 1000 }),
    ]);
    alerts = [...open, ...acked];
    fillFilters();
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
