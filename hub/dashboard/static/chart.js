// One metric's chart (uPlot): the time axis in the hub's zone with a 24-hour clock,
// the value axis within the profile's plausible range and wide enough for its
// labels, the x range exactly the chosen period, optional threshold lines, and an
// empty state that says why nothing is drawn.

import { el, metricInfo, metricUnit, number } from "./format.js";
import { dayAndMonth, t, timeOfDay, zone } from "./i18n.js";

const LINE = "#1565c0";
const THRESHOLD = "#b71c1c";
export const AXIS_FONT = "12px system-ui, sans-serif";
const TICK_AND_GAP = 10 + 5; // uPlot's tick length and gap before a label
const measure = document.createElement("canvas").getContext("2d");

/** Pixels the widest of `labels` needs in the axis font. */
function textWidth(labels) {
  measure.font = AXIS_FONT;
  return Math.max(0, ...(labels || []).map((v) => measure.measureText(String(v)).width));
}

/**
 * A chart in `box`. `spec`: {profile, metric, width, height, thresholds: [{value, label}]}.
 * Returns {setData(times, values, from, to), setSize(width), destroy(), empty(text)}.
 */
export function chart(box, spec) {
  const info = metricInfo(spec.profile, spec.metric) || {};
  let xFrom = null;
  let xTo = null;
  const thresholds = spec.thresholds || [];
  const emptyNote = el("p", { class: "chart-empty", role: "note", hidden: true });
  const tz = zone();

  function yRange(u, dmin, dmax) {
    // a flat line (a lamp at 100 %) is drawn within the metric's whole range
    const bounded = typeof info.min === "number" && typeof info.max === "number";
    if (bounded && dmin === dmax && !thresholds.length && info.max - info.min <= 1000) {
      box.dataset.ymin = String(info.min);
      box.dataset.ymax = String(info.max);
      return [info.min, info.max];
    }
    const marks = thresholds.map((th) => th.value);
    let lo = Math.min(dmin ?? 0, ...marks);
    let hi = Math.max(dmax ?? 1, ...marks);
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) [lo, hi] = [0, 1];
    const [a, b] = uPlot.rangeNum(lo, hi === lo ? lo + 1 : hi, 0.1, true);
    // never beyond what the device can report (a dim level stays within 0-100 %)
    const floor = typeof info.min === "number" ? info.min : -Infinity;
    const ceil = typeof info.max === "number" ? info.max : Infinity;
    const range = [Math.max(a, floor), Math.min(b, ceil)];
    box.dataset.ymin = String(range[0]);
    box.dataset.ymax = String(range[1]);
    return range;
  }

  function timeLabels(u, splits) {
    const span = (xTo ?? 0) - (xFrom ?? 0);
    const labels = splits.map((s) => (span > 2 * 86400 ? dayAndMonth(s * 1000) : timeOfDay(s * 1000)));
    box.dataset.ticks = labels.join("|");
    return labels;
  }

  function valueLabels(u, splits) {
    // as many decimals as the step between ticks needs: 3 024,1 / 3 024,2, not 3 024 twice
    const step = splits.length > 1 ? Math.abs(splits[1] - splits[0]) : 1;
    const digits = step > 0 ? Math.min(3, Math.max(0, Math.ceil(-Math.log10(step) - 1e-9))) : 0;
    const labels = splits.map((v) => number(v, digits));
    box.dataset.yticks = labels.join("|");
    return labels;
  }

  function axisSize(u, values) {
    const size = Math.ceil(textWidth(values)) + TICK_AND_GAP + 6;
    box.dataset.yaxis = String(size);
    return Math.max(40, size);
  }

  const plot = new uPlot(
    {
      width: spec.width,
      height: spec.height || 170,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), tz),
      scales: {
        x: { time: true, range: (u, dmin, dmax) => [xFrom ?? dmin, xTo ?? dmax] },
        y: { range: yRange },
      },
      series: [
        {},
        { label: spec.metric, stroke: LINE, width: 2, fill: "rgba(21,101,192,0.08)", spanGaps: false, points: { show: false } },
      ],
      axes: [
        { stroke: "#333", font: AXIS_FONT, values: timeLabels, space: 70 },
        { stroke: "#333", font: AXIS_FONT, values: valueLabels, size: axisSize },
      ],
      hooks: {
        draw: [
          (u) => {
            const { ctx } = u;
            for (const th of thresholds) {
              const y = u.valToPos(th.value, "y", true);
              ctx.save();
              ctx.strokeStyle = THRESHOLD;
              ctx.setLineDash([6, 4]);
              ctx.lineWidth = 2;
              ctx.beginPath();
              ctx.moveTo(u.bbox.left, y);
              ctx.lineTo(u.bbox.left + u.bbox.width, y);
              ctx.stroke();
              ctx.fillStyle = THRESHOLD;
              ctx.font = `${12 * devicePixelRatio}px system-ui, sans-serif`;
              ctx.fillText(th.label, u.bbox.left + 6, y - 4 * devicePixelRatio);
              ctx.restore();
            }
          },
        ],
      },
    },
    [[], []],
    box,
  );
  box.append(emptyNote);
  box.setAttribute("role", "img");
  const unit = metricUnit(spec.profile, spec.metric);

  return {
    plot,
    setData(times, values, from, to) {
      xFrom = from;
      xTo = to;
      plot.setData([times, values]);
      box.dataset.points = String(times.length);
      // the x scale as uPlot drew it: the chosen period, not the data's extent
      box.dataset.xmin = String(plot.scales.x.min);
      box.dataset.xmax = String(plot.scales.x.max);
      const last = values.length ? values[values.length - 1] : null;
      box.setAttribute(
        "aria-label",
        values.length
          ? t("chart.summary", { n: times.length, last: `${number(last)}${unit ? ` ${unit}` : ""}` })
          : t("chart.emptyLabel"),
      );
    },
    empty(text) {
      emptyNote.hidden = !text;
      emptyNote.textContent = text || "";
    },
    setSize(width) {
      plot.setSize({ width, height: spec.height || 170 });
    },
    destroy() {
      plot.destroy();
    },
  };
}
