/**
 * The soak's chart as hand-written SVG (no dependency): panels stacked over one time axis, each with
 * its own y axis, ticks, unit and legend.
 */

export interface Series {
  readonly name: string;
  readonly color: string;
  /** [seconds since start, value]; NaN values leave a gap. */
  readonly points: readonly (readonly [number, number])[];
  readonly dashed?: boolean;
}

export interface Panel {
  readonly title: string;
  /** Y axis label with its unit, e.g. "RSS (MiB)". */
  readonly yLabel: string;
  readonly series: readonly Series[];
  /** Logarithmic y axis (decades), for values that span orders of magnitude like latency p50 vs p99. */
  readonly log?: boolean;
}

export interface ChartOptions {
  readonly title: string;
  /** One or more lines ('\n'). */
  readonly subtitle: string;
  readonly panels: readonly Panel[];
  readonly durationS: number;
  /** Vertical markers (e.g. "churn ends"), labelled in the first panel. */
  readonly markers?: readonly { readonly t: number; readonly label: string }[];
}

const W = 960;
const LEFT = 84;
const RIGHT = 24;
const PANEL_H = 150;
const GAP = 58;
const TOP = 116;

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v: number): string => (Math.abs(v) >= 100 || Number.isInteger(v) ? String(Math.round(v)) : String(Number(v.toPrecision(2))));

/** A "nice" tick step (1, 2, 2.5 or 5 × 10^k) giving about `n` intervals up to max. */
export function niceStep(max: number, n = 4): number {
  if (!(max > 0)) return 1;
  const raw = max / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  return ([1, 2, 2.5, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag;
}

/** Time axis in seconds below 3 minutes, in minutes above. */
function timeAxis(durationS: number): { unit: string; div: number; step: number } {
  if (durationS <= 180) return { unit: 's', div: 1, step: niceStep(durationS, 6) };
  return { unit: 'min', div: 60, step: niceStep(durationS / 60, 10) };
}

/** Y scale of a panel: value → pixel, and the ticks to draw. */
function yScale(p: Panel, top: number): { y: (v: number) => number; ticks: number[] } {
  const values = p.series.flatMap((s) => s.points.map(([, v]) => v)).filter((v) => Number.isFinite(v) && (!p.log || v > 0));
  const max = Math.max(...values, 0);
  if (p.log) {
    const lo = Math.floor(Math.log10(Math.min(...values, 1)));
    const hi = Math.max(lo + 1, Math.ceil(Math.log10(Math.max(max, 10 ** lo))));
    const ticks = Array.from({ length: hi - lo + 1 }, (_, i) => 10 ** (lo + i));
    const y = (v: number): number => top + PANEL_H - ((Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo)) * PANEL_H;
    return { y, ticks };
  }
  const step = niceStep(max * 1.05 || 1);
  const yMax = Math.max(step, Math.ceil((max * 1.05) / step) * step);
  const ticks: number[] = [];
  for (let v = 0; v <= yMax + step / 1000; v += step) ticks.push(v);
  return { y: (v: number): number => top + PANEL_H - (v / yMax) * PANEL_H, ticks };
}

function panelSvg(p: Panel, top: number, o: ChartOptions): string {
  const plotW = W - LEFT - RIGHT;
  const x = (t: number): number => LEFT + (Math.min(t, o.durationS) / Math.max(o.durationS, 1)) * plotW;
  const { y, ticks } = yScale(p, top);
  const out: string[] = [];
  out.push(`<text x="${LEFT}" y="${top - 10}" class="pt">${esc(p.title)}</text>`);
  // y grid and ticks
  for (const v of ticks) {
    out.push(`<line x1="${LEFT}" x2="${W - RIGHT}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" class="grid"/>`);
    out.push(`<text x="${LEFT - 6}" y="${(y(v) + 4).toFixed(1)}" class="tick" text-anchor="end">${fmt(v)}</text>`);
  }
  out.push(`<text transform="translate(${18},${top + PANEL_H / 2}) rotate(-90)" class="axis" text-anchor="middle">${esc(p.yLabel)}</text>`);
  // x ticks
  const ta = timeAxis(o.durationS);
  for (let t = 0; t <= o.durationS / ta.div + 1e-9; t += ta.step) {
    const px = x(t * ta.div);
    out.push(`<line x1="${px.toFixed(1)}" x2="${px.toFixed(1)}" y1="${top + PANEL_H}" y2="${top + PANEL_H + 4}" class="axisline"/>`);
    out.push(`<text x="${px.toFixed(1)}" y="${top + PANEL_H + 16}" class="tick" text-anchor="middle">${fmt(t)}</text>`);
  }
  out.push(`<rect x="${LEFT}" y="${top}" width="${plotW}" height="${PANEL_H}" class="frame"/>`);
  for (const m of o.markers ?? []) {
    out.push(`<line x1="${x(m.t).toFixed(1)}" x2="${x(m.t).toFixed(1)}" y1="${top}" y2="${top + PANEL_H}" class="marker"/>`);
  }
  // series
  p.series.forEach((s, i) => {
    let d = '';
    let pen = false;
    for (const [t, v] of s.points) {
      if (!Number.isFinite(v) || (p.log && v <= 0)) {
        pen = false;
        continue;
      }
      d += `${pen ? 'L' : 'M'}${x(t).toFixed(1)},${y(v).toFixed(1)}`;
      pen = true;
    }
    out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.8"${s.dashed ? ' stroke-dasharray="5,3"' : ''}/>`);
    const lx = W - RIGHT - 160 * (p.series.length - i);
    out.push(`<line x1="${lx}" x2="${lx + 22}" y1="${top - 14}" y2="${top - 14}" stroke="${s.color}" stroke-width="2.5"${s.dashed ? ' stroke-dasharray="5,3"' : ''}/>`);
    out.push(`<text x="${lx + 28}" y="${top - 10}" class="legend">${esc(s.name)}</text>`);
  });
  return out.join('\n');
}

export function renderChart(o: ChartOptions): string {
  const h = TOP + o.panels.length * (PANEL_H + GAP) + 10;
  const ta = timeAxis(o.durationS);
  const parts = o.panels.map((p, i) => panelSvg(p, TOP + i * (PANEL_H + GAP), o));
  const lastBottom = TOP + (o.panels.length - 1) * (PANEL_H + GAP) + PANEL_H;
  const markerText = (o.markers ?? []).map((m) => {
    const px = LEFT + (Math.min(m.t, o.durationS) / Math.max(o.durationS, 1)) * (W - LEFT - RIGHT);
    // Right of the line, or left of it when the line is in the right half (no clipping at the edge).
    const right = px < LEFT + (W - LEFT - RIGHT) / 2;
    return `<text x="${(px + (right ? 4 : -4)).toFixed(1)}" y="${TOP + 14}" class="mlabel" text-anchor="${right ? 'start' : 'end'}">${esc(m.label)}</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${h}" viewBox="0 0 ${W} ${h}" font-family="DejaVu Sans, Arial, sans-serif">
<style>
.t{font-size:17px;font-weight:bold}.st{font-size:12px;fill:#444}.pt{font-size:13px;font-weight:bold}
.tick{font-size:11px;fill:#333}.axis{font-size:12px;fill:#222}.legend{font-size:12px;fill:#222}
.grid{stroke:#e3e3e3;stroke-width:1}.frame{fill:none;stroke:#888;stroke-width:1}.axisline{stroke:#888}
.marker{stroke:#b00;stroke-width:1;stroke-dasharray:4,4}.mlabel{font-size:11px;fill:#b00}
</style>
<rect width="100%" height="100%" fill="#fff"/>
<text x="${LEFT}" y="26" class="t">${esc(o.title)}</text>
${o.subtitle.split('\n').map((line, i) => `<text x="${LEFT}" y="${44 + i * 15}" class="st">${esc(line)}</text>`).join('\n')}
${markerText.join('\n')}
${parts.join('\n')}
<text x="${LEFT + (W - LEFT - RIGHT) / 2}" y="${lastBottom + 36}" class="axis" text-anchor="middle">time since start (${ta.unit})</text>
</svg>
`;
}
