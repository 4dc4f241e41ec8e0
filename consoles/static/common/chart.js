// Two small inline-SVG charts. Colours come from CSS classes (series-0 … series-3), so they
// follow the stylesheet and the page's CSP (no inline styles). Every chart also gets a text
// alternative: `role="img"` with an aria-label, and callers show the numbers in a table.

const NS = "http://www.w3.org/2000/svg";

function s(tag, attrs = {}, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

function niceMax(value) {
  if (value <= 5) return 5;
  const step = 10 ** Math.floor(Math.log10(value));
  return Math.ceil(value / step) * step;
}

function reset(svg, width, height, label) {
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  svg.append(s("title", {}, label));
}

/**
 * Lines over time. `series`: [{name, points: [[Date, number], ...]}]; the x axis spans the
 * samples, the y axis starts at 0.
 */
export function lineChart(svg, series, { label, width = 640, height = 260 } = {}) {
  reset(svg, width, height, label);
  const pad = { left: 48, right: 16, top: 16, bottom: 40 };
  const all = series.flatMap((x) => x.points);
  if (!all.length) {
    svg.append(s("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "muted" }, "暂无数据"));
    return;
  }
  const t0 = Math.min(...all.map((p) => +p[0]));
  const t1 = Math.max(...all.map((p) => +p[0]), t0 + 1000);
  const yMax = niceMax(Math.max(...all.map((p) => p[1]), 1));
  const x = (t) => pad.left + ((+t - t0) / (t1 - t0)) * (width - pad.left - pad.right);
  const y = (v) => height - pad.bottom - (v / yMax) * (height - pad.top - pad.bottom);
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4;
    svg.append(s("line", { x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v), class: "grid" }));
    svg.append(s("text", { x: pad.left - 6, y: y(v) + 4, "text-anchor": "end", class: "axis" }, Math.round(v)));
  }
  const seconds = Math.round((t1 - t0) / 1000);
  svg.append(s("text", { x: pad.left, y: height - 20, class: "axis" }, "0 秒"));
  svg.append(s("text", { x: width - pad.right, y: height - 20, "text-anchor": "end", class: "axis" }, `${seconds} 秒`));
  series.forEach((line, i) => {
    if (!line.points.length) return;
    const d = line.points.map((p, j) => `${j ? "L" : "M"}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ");
    svg.append(s("path", { d, class: `line series-${i}`, fill: "none" }));
    const last = line.points[line.points.length - 1];
    svg.append(s("circle", { cx: x(last[0]), cy: y(last[1]), r: 3, class: `dot series-${i}` }));
  });
  // Legend along the bottom.
  let lx = pad.left;
  series.forEach((line, i) => {
    svg.append(s("rect", { x: lx, y: height - 12, width: 10, height: 10, class: `swatch series-${i}` }));
    const text = s("text", { x: lx + 14, y: height - 3, class: "legend" }, line.name);
    svg.append(text);
    lx += 24 + line.name.length * 14;
  });
}

/** Horizontal bars. `items`: [{label, value, display?}]; `max` defaults to the largest value. */
export function barChart(svg, items, { label, width = 480, max, barHeight = 24 } = {}) {
  const pad = { left: 150, right: 70, top: 8, bottom: 8 };
  const height = pad.top + pad.bottom + Math.max(items.length, 1) * (barHeight + 8);
  reset(svg, width, height, label);
  const top = max ?? Math.max(...items.map((i) => i.value), 1);
  items.forEach((item, i) => {
    const y = pad.top + i * (barHeight + 8);
    const w = ((width - pad.left - pad.right) * item.value) / (top || 1);
    svg.append(s("text", { x: pad.left - 8, y: y + barHeight / 2 + 5, "text-anchor": "end", class: "axis" }, item.label));
    svg.append(s("rect", { x: pad.left, y, width: Math.max(w, 1), height: barHeight, rx: 3, class: `bar series-${i % 4}` }));
    svg.append(s("text", { x: pad.left + w + 6, y: y + barHeight / 2 + 5, class: "value" }, item.display ?? item.value));
  });
}
