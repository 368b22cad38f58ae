// The public page for residents (/public): air quality now and today, street lights
// being repaired and water use, per district. No key (in open-data mode): it reads /api/v1/public/*,
// which serve only public devices and aggregates of households over at least the
// minimum group (docs/privacy.md). Norwegian bokmål first, English second.

import { hubConfig } from "./api.js";
import { el } from "./format.js";
import { dateTime, language, load, locale, number, setLanguage, t, timeOfDay, translatePage, zoneName } from "./i18n.js";

const CLASSES = ["low", "moderate", "high", "very_high"];
// A shape beside each class's colour, so colour never carries the meaning alone.
const SHAPE = { low: "●", moderate: "▲", high: "■", very_high: "◆" };
const REFRESH_MS = 5 * 60 * 1000;

const main = document.getElementById("main");
let config = { timezone: "Europe/Oslo" };

class Closed extends Error {}

async function getJson(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" }, cache: "no-store" });
  if (response.status === 401) throw new Closed(path); // open-data mode is off
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

function districtName(name) {
  return name || t("public.noDistrict");
}

function classBadge(name, attrs = {}) {
  return el(
    "span",
    { class: `aq-badge aq-${name}`, "data-class": name, ...attrs },
    el("span", { class: "shape", "aria-hidden": "true", text: SHAPE[name] }),
    ` ${t(`aq.${name}`)}`,
  );
}

function hourSpan(iso) {
  const end = new Date(Date.parse(iso) + 3600 * 1000);
  return t("public.hourSpan", { from: timeOfDay(iso), to: timeOfDay(end) });
}

function explainClasses() {
  return el(
    "dl",
    { class: "classes" },
    CLASSES.flatMap((name) => [el("dt", {}, classBadge(name)), el("dd", { text: t(`public.aq.${name}`) })]),
  );
}

function airCard(d) {
  const now = d.now
    ? el(
        "p",
        { class: "now" },
        el("span", { class: "label", text: t("public.air.now") }),
        " ",
        classBadge(d.now.class),
        el("small", { text: ` ${hourSpan(d.now.hour)}` }),
      )
    : el("p", { class: "now quiet", text: t("public.air.noNow") });
  const advice = d.now ? el("p", { class: "advice", text: t(`public.aq.${d.now.class}`) }) : null;
  const pollutants = d.now
    ? el(
        "ul",
        { class: "pollutants" },
        Object.entries(d.now.means).map(([p, v]) =>
          el("li", {}, `${t(`public.pollutant.${p}`)}: ${number(v, 0)} µg/m³ (${t(`aq.short.${d.now.pollutants[p]}`)})`),
        ),
      )
    : null;
  const today = d.worst_today
    ? el("p", { class: "today" }, el("span", { class: "label", text: t("public.air.today") }), " ", classBadge(d.worst_today))
    : el("p", { class: "today quiet", text: t("public.air.noToday") });
  const hours = d.today.length
    ? el(
        "details",
        { class: "hours" },
        el("summary", { text: t("public.air.hours", { n: d.today.length }) }),
        el(
          "table",
          {},
          el("caption", { class: "sr-only", text: t("public.air.hoursCaption", { district: districtName(d.district) }) }),
          el("thead", {}, el("tr", {}, el("th", { scope: "col", text: t("public.air.hour") }), el("th", { scope: "col", text: t("public.air.class") }))),
          el(
            "tbody",
            {},
            d.today.map((h) => el("tr", {}, el("td", { text: hourSpan(h.hour) }), el("td", {}, classBadge(h.class)))),
          ),
        ),
      )
    : null;
  return el(
    "article",
    { class: `card aq-card aq-${d.now ? d.now.class : "none"}`, "data-district": d.district || "" },
    el("h3", { text: districtName(d.district) }),
    now,
    advice,
    pollutants,
    today,
    hours,
    el("p", { class: "quiet small", text: t("public.air.monitors", { n: d.monitors }) }),
  );
}

function lightsCard(d) {
  const figure = (key, n) => [el("dt", { text: t(key) }), el("dd", { text: number(n, 0) })];
  return el(
    "article",
    { class: "card", "data-district": d.district || "" },
    el("h3", { text: districtName(d.district) }),
    el(
      "dl",
      { class: "figures" },
      figure("public.lights.lamps", d.lamps),
      figure("public.lights.reported", d.reported),
      figure("public.lights.inProgress", d.in_progress),
      figure("public.lights.fixedToday", d.fixed_today),
    ),
  );
}

function dayName(iso) {
  const date = new Date(`${iso}T12:00:00Z`);
  return new Intl.DateTimeFormat(locale(), {
    weekday: "short",
    day: "numeric",
    month: "numeric",
    timeZone: "UTC",
  }).format(date);
}

function waterCard(d, minGroup) {
  return el(
    "article",
    { class: "card", "data-district": d.district || "" },
    el("h3", { text: districtName(d.district) }),
    el(
      "table",
      { class: "water" },
      el("caption", { class: "sr-only", text: t("public.water.caption", { district: districtName(d.district) }) }),
      el(
        "thead",
        {},
        el("tr", {}, el("th", { scope: "col", text: t("public.water.day") }), el("th", { scope: "col", text: t("public.water.use") })),
      ),
      el(
        "tbody",
        {},
        d.days.map((day) =>
          el(
            "tr",
            { "data-day": day.day, "data-suppressed": day.suppressed ? "true" : "false" },
            el("th", { scope: "row", text: dayName(day.day) }),
            day.suppressed
              ? el("td", { class: "hidden", text: t("public.water.hidden", { n: minGroup }) })
              : day.cubic_metres === null
                ? el("td", { class: "quiet", text: t("public.water.none") })
                : el("td", { text: t("public.water.amount", { m3: number(day.cubic_metres, 1), meters: day.meters }) }),
          ),
        ),
      ),
    ),
  );
}

function empty(key) {
  return el("p", { class: "quiet", text: t(key) });
}

async function refresh() {
  const [air, lights, water] = await Promise.all([
    getJson("/api/v1/public/air-quality"),
    getJson("/api/v1/public/street-lights"),
    getJson("/api/v1/public/water?days=7"),
  ]);
  document.getElementById("air-classes").replaceChildren(explainClasses());
  document.getElementById("air").replaceChildren(...(air.districts.length ? air.districts.map(airCard) : [empty("public.air.none")]));
  document.getElementById("lights").replaceChildren(...(lights.districts.length ? lights.districts.map(lightsCard) : [empty("public.lights.none")]));
  document.getElementById("water-intro").textContent = t("public.water.intro", { n: water.min_group });
  document
    .getElementById("water")
    .replaceChildren(...(water.districts.length ? water.districts.map((d) => waterCard(d, water.min_group)) : [empty("public.water.none")]));
  document.getElementById("updated").textContent = t("public.updated", { time: dateTime(Date.now(), { seconds: false }), zone: zoneName() });
}

async function render() {
  translatePage();
  document.title = t("public.title");
  main.removeAttribute("data-ready");
  try {
    await refresh();
    main.removeAttribute("data-failed");
  } catch (err) {
    console.error("public page:", err);
    document.getElementById("updated").textContent = t(err instanceof Closed ? "public.closed" : "public.failed");
    main.dataset.failed = "true";
  }
  main.dataset.ready = "true";
}

(async () => {
  config = await hubConfig(config);
  await load(undefined, config.timezone);
  const select = document.getElementById("lang-select");
  select.value = language();
  select.addEventListener("change", async () => {
    setLanguage(select.value);
    await load(select.value, config.timezone);
    select.value = language();
    await render();
  });
  await render();
  setInterval(render, REFRESH_MS);
})();
