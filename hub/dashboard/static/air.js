// Air quality: the current class of each monitor in the four Norwegian levels
// (lite, moderat, høy, svært høy) with their usual green, yellow, red and purple,
// and the class's name beside the colour.

import { all, get } from "./api.js";
import { clock, el, metricLabel, number } from "./format.js";
import { t } from "./i18n.js";

const CLASSES = ["low", "moderate", "high", "very_high"];

export async function show(root, ctx) {
  const grid = el("div", { class: "air-grid", id: "air" });
  root.append(
    el(
      "section",
      { class: "page" },
      el("h1", { text: t("title.air") }),
      el(
        "ul",
        { class: "legend", "aria-label": t("air.legend") },
        CLASSES.map((name) => el("li", {}, el("i", { class: `dot aq-${name}`, "aria-hidden": "true" }), t(`aq.${name}`))),
      ),
      el("p", { class: "quiet", text: t("air.explain") }),
      grid,
    ),
  );

  async function load() {
    const [classes, monitors] = await Promise.all([
      get("/api/v1/air-quality"),
      all("/api/v1/devices", { profile: "air_quality", limit: 1000 }),
    ]);
    const byDevice = new Map(classes.map((c) => [c.device_id, c]));
    const ids = [...new Set([...monitors.map((m) => m.device_id), ...byDevice.keys()])].sort();
    const district = new Map(monitors.map((m) => [m.device_id, m.district]));
    grid.replaceChildren(
      ...(ids.length
        ? ids.map((id) => {
            const c = byDevice.get(id);
            const cls = c ? c.class : "none";
            return el(
              "a",
              { class: `air-card aq-${cls}`, href: `#/device/${encodeURIComponent(id)}`, "data-device": id, "data-class": cls },
              el("b", { class: "id", text: id }),
              el("span", { class: "district", text: (c && c.district) || district.get(id) || "" }),
              el("strong", { class: "class", text: c ? t(`aq.${c.class}`) : t("air.noHour") }),
              c
                ? el(
                    "ul",
                    {},
                    Object.entries(c.means).map(([p, v]) =>
                      el("li", {}, `${metricLabel("air_quality", p)} ${number(v)}`, c.pollutants[p] ? ` (${t(`aq.short.${c.pollutants[p]}`)})` : ""),
                    ),
                  )
                : null,
              c ? el("small", { text: t("air.hourFrom", { time: clock(c.hour) }) }) : null,
            );
          })
        : [el("p", { class: "quiet empty", text: t("air.none") })]),
    );
  }

  await load();
  const timer = setInterval(() => load().catch(ctx.explain), 60000);
  return () => clearInterval(timer);
}
