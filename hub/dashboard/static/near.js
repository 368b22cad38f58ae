// Near me: the devices sorted by distance from the phone's position, once the
// browser grants it; the field crew's list of what to look at on the way.

import { all } from "./api.js";
import { deviceState, distance, el, haversine, profileLabel, stateBadge } from "./format.js";
import { t } from "./i18n.js";

export async function show(root, ctx) {
  const list = el("ol", { class: "near", id: "near" });
  const note = el("p", { class: "quiet", id: "near-note", role: "status", text: t("near.asking") });
  const again = el("button", { type: "button", id: "near-locate", text: t("near.locate") });
  root.append(el("section", { class: "page" }, el("h1", { text: t("title.near") }), el("div", { class: "inbox-tools" }, again), note, list));

  const [devices, open] = await Promise.all([
    all("/api/v1/devices", { limit: 1000 }),
    all("/api/v1/alerts", { state: "open", limit: 1000 }),
  ]);
  const alerting = new Set(open.map((a) => a.device_id));
  let watch = null;

  function draw(lat, lon, accuracy) {
    const placed = devices.filter((d) => d.location && !d.decommissioned_at);
    const sorted = placed
      .map((d) => [haversine(lat, lon, d.location.lat, d.location.lon), d])
      .sort((a, b) => a[0] - b[0])
      .slice(0, 100);
    note.textContent = t("near.from", { accuracy: distance(accuracy || 0), n: sorted.length });
    list.replaceChildren(
      ...sorted.map(([metres, d]) =>
        el(
          "li",
          { "data-device": d.device_id, "data-distance": String(Math.round(metres)) },
          el("a", { href: `#/device/${encodeURIComponent(d.device_id)}` }, el("b", { text: d.device_id }), ` ${d.name || ""}`),
          el("span", { class: "dist", text: distance(metres) }),
          stateBadge(deviceState(d, alerting)),
          el("small", { text: `${profileLabel(d.profile)} · ${d.district || t("device.noDistrict")}` }),
        ),
      ),
    );
    if (!sorted.length) list.append(el("li", { class: "quiet empty", text: t("near.noPlaced") }));
  }

  function locate() {
    if (!("geolocation" in navigator)) {
      note.textContent = t("near.unsupported");
      return;
    }
    note.textContent = t("near.asking");
    if (watch !== null) navigator.geolocation.clearWatch(watch);
    watch = navigator.geolocation.watchPosition(
      (pos) => draw(pos.coords.latitude, pos.coords.longitude, pos.coords.accuracy),
      (err) => {
        note.textContent = err.code === err.PERMISSION_DENIED ? t("near.denied") : t("near.failed", { detail: err.message });
      },
      { enableHighAccuracy: true, maximumAge: 30000, timeout: 20000 },
    );
  }
  again.addEventListener("click", locate);
  locate();
  return () => {
    if (watch !== null) navigator.geolocation.clearWatch(watch);
  };
}
