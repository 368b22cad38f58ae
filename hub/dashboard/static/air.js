// Air quality: the current class of each monitor in the four Norwegian levels
// (lite, moderat, høy, svært høy) with their usual green, yellow, red and purple.

import { all, get } from "./api.js";
import { clock, el, label, number } from "./format.js";

const CLASSES = {
  low: "Low (lite)",
  moderate: "Moderate (moderat)",
  high: "High (høy)",
  very_high: "Very high (svært høy)",
};

export async function show(root, ctx) {
  const grid = el("div", { class: "air-grid", id: "air" });
  root.append(
    el(
      "section",
      { class: "page" },
      el("h1", { text: "Air quality" }),
      el(
        "div",
        { class: "legend" },
        Object.entries(CLASSES).map(([name, text]) => el("span", {}, el("i", { class: `dot aq-${name}` }), text)),
      ),
      el("p", { class: "quiet", text: "Class of the last complete hour: the worst of the monitor's pollutants (hourly means, µg/m³)." }),
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
              el("strong", { class: "class", text: c ? CLASSES[c.class] || c.class : "No complete hour yet" }),
              c
                ? el(
                    "ul",
                    {},
                    Object.entries(c.means).map(([p, v]) =>
                      el("li", { class: `aq-text-${c.pollutants[p] || "none"}` }, `${label(p)} ${number(v)}`),
                    ),
                  )
                : null,
              c ? el("small", { text: `hour from ${clock(c.hour)}` }) : null,
            );
          })
        : [el("p", { class: "quiet", text: "No air-quality monitors." })]),
    );
  }

  await load();
  const timer = setInterval(() => load().catch(ctx.explain), 60000);
  return () => clearInterval(timer);
}
