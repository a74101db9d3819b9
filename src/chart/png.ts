// Renders line and bar charts (memory per pod, breaker metrics vs thresholds) to PNG buffers for Slack.
import type { PNG } from 'pngjs';
import { ADVANCE, GLYPH_HEIGHT, textWidth } from './font.ts';
import { niceScale, type Scale } from './scale.ts';
import { canvas, drawLine, drawText, encode, fillRect } from './raster.ts';
import { BACKGROUND, PALETTE, TEXT_COLOR, THRESHOLD_COLOR } from './spec.ts';
import type {
  Bar,
  BarChartLayout,
  BarChartSpec,
  LegendEntry,
  LineChartLayout,
  LineChartSpec,
  PlacedBar,
  PlacedThreshold,
  Point,
  Rect,
  Rgb,
  Series,
  Threshold,
} from './spec.ts';
import {
  canvasSize,
  extent,
  finiteThresholds,
  formatNumber,
  isPresent,
  isTime,
  paletteColor,
  truncate,
} from './values.ts';

export { BACKGROUND, PALETTE, TEXT_COLOR, THRESHOLD_COLOR };
export type {
  Bar,
  BarChartLayout,
  BarChartSpec,
  LegendEntry,
  LineChartLayout,
  LineChartSpec,
  PlacedBar,
  PlacedThreshold,
  Point,
  Rect,
  Rgb,
  Series,
  Threshold,
};

const AXIS_COLOR: Rgb = [110, 110, 110];
const GRID_COLOR: Rgb = [232, 232, 232];

const MARGIN = 12;
const TITLE_SCALE = 2;
const LINE_HEIGHT = GLYPH_HEIGHT + 5;
const SWATCH = 14;
const MAX_LEGEND_ROWS = 3;
const MINUTE = 60_000;
const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440].map((m) => m * MINUTE);

export function renderLineChart(spec: LineChartSpec): Buffer {
  const layout = lineChartLayout(spec);
  const img = canvas(layout.width, layout.height);
  drawTitle(img, spec.title);
  const series = spec.series ?? [];
  if (!series.some((s) => (s.points ?? []).some(isPresent))) return noData(img);

  const fmt = spec.formatY ?? formatNumber;
  const { plot, xOf, yOf } = layout;
  for (const e of layout.legend) {
    if (e.color) fillRect(img, e.x, e.y, SWATCH - 4, GLYPH_HEIGHT, e.color);
    drawText(img, e.text, e.color ? e.x + SWATCH : e.x, e.y, TEXT_COLOR);
  }
  if (spec.yLabel) drawText(img, truncate(spec.yLabel, 60), MARGIN, plot.y - LINE_HEIGHT - 4, TEXT_COLOR);
  drawGrid(img, plot, layout.yTicks.map(yOf), layout.xTicks.map(xOf));
  drawThresholdLines(img, plot, layout.thresholds);
  series.forEach((s, i) => drawSeries(img, s.points ?? [], paletteColor(i), xOf, yOf));
  drawAxes(img, plot);
  drawYLabels(img, plot, layout.yTicks, yOf, fmt);
  // Time labels are drawn left to right and skipped when they would collide with the previous one.
  drawText(img, 'UTC', MARGIN, plot.y + plot.height + 6, AXIS_COLOR);
  let lastRight = MARGIN + textWidth('UTC');
  for (const t of layout.xTicks) {
    const text = new Date(t).toISOString().slice(11, 16);
    const left = xOf(t) - Math.floor(textWidth(text) / 2);
    if (left <= lastRight + 6 || left + textWidth(text) > layout.width - 1) continue;
    drawText(img, text, left, plot.y + plot.height + 6, TEXT_COLOR);
    lastRight = left + textWidth(text);
  }
  drawThresholdLabels(img, plot, layout.thresholds, fmt);
  return encode(img);
}

export function renderBarChart(spec: BarChartSpec): Buffer {
  const layout = barChartLayout(spec);
  const img = canvas(layout.width, layout.height);
  drawTitle(img, spec.title);
  if (!layout.bars.some((b) => Number.isFinite(b.value))) return noData(img);

  const fmt = spec.formatY ?? formatNumber;
  const { plot, yOf } = layout;
  drawGrid(img, plot, layout.yTicks.map(yOf), []);
  const slot = plot.width / layout.bars.length;
  for (const [i, b] of layout.bars.entries()) {
    fillRect(img, b.x, b.y, b.width, b.height, b.color);
    const center = Math.round(plot.x + (i + 0.5) * slot);
    const value = Number.isFinite(b.value) ? truncate(fmt(b.value), 12) : 'n/a';
    if (textWidth(value) <= slot - 2) {
      const left = center - Math.floor(textWidth(value) / 2);
      // A bar reaching the top has no room above it, so its value goes inside in white.
      if (b.y - LINE_HEIGHT >= plot.y) drawText(img, value, left, b.y - LINE_HEIGHT + 2, TEXT_COLOR);
      else drawText(img, value, left, b.y + 3, BACKGROUND);
    }
    const label = truncate(b.label, Math.floor((slot - 4 + 1) / ADVANCE), 'middle');
    drawText(img, label, center - Math.floor(textWidth(label) / 2), plot.y + plot.height + 6, TEXT_COLOR);
  }
  drawThresholdLines(img, plot, layout.thresholds);
  drawAxes(img, plot);
  drawYLabels(img, plot, layout.yTicks, yOf, fmt);
  drawThresholdLabels(img, plot, layout.thresholds, fmt);
  return encode(img);
}

/** Where everything of a line chart goes; exported so tests can find a point's pixel. */
export function lineChartLayout(spec: LineChartSpec): LineChartLayout {
  const { width, height } = canvasSize(spec);
  const series = spec.series ?? [];
  const points = series.flatMap((s) => (s.points ?? []).filter((p) => isTime(p?.t)));
  const present = points.filter(isPresent);
  let [tMin, tMax] = extent(points.map((p) => p.t)) ?? [0, 30 * MINUTE];
  if (tMax === tMin) [tMin, tMax] = [tMin - MINUTE / 2, tMax + MINUTE / 2];
  const limits = finiteThresholds(spec.thresholds);
  const scale = niceScale([...present.map((p) => p.v), ...limits.map((l) => l.value)], spec.yMin, spec.yMax);
  const fmt = spec.formatY ?? formatNumber;

  const legend = layoutLegend(series, MARGIN, width - MARGIN, MARGIN + GLYPH_HEIGHT * TITLE_SCALE + 8);
  const legendBottom = Math.max(
    MARGIN + GLYPH_HEIGHT * TITLE_SCALE,
    ...legend.map((e) => e.y + GLYPH_HEIGHT),
  );
  const top = legendBottom + (spec.yLabel ? LINE_HEIGHT + 14 : 12);
  const plot = plotRect(width, height, top, scale, limits, fmt);
  const xOf = (t: number) => plot.x + Math.round(((t - tMin) / (tMax - tMin)) * (plot.width - 1));
  const yOf = valueToRow(plot, scale);
  return {
    width,
    height,
    plot,
    yTicks: scale.ticks,
    xTicks: timeTicks(tMin, tMax, plot.width),
    legend,
    thresholds: placeThresholds(limits, scale, yOf),
    xOf,
    yOf,
  };
}

/** Where everything of a bar chart goes; exported so tests can find a bar's pixels. */
export function barChartLayout(spec: BarChartSpec): BarChartLayout {
  const { width, height } = canvasSize(spec);
  const bars = spec.bars ?? [];
  const limits = finiteThresholds(spec.thresholds);
  const scale = niceScale(
    [...bars.map((b) => b.value).filter(Number.isFinite), ...limits.map((l) => l.value)],
    0,
    spec.yMax,
  );
  const fmt = spec.formatY ?? formatNumber;
  const plot = plotRect(width, height, MARGIN + GLYPH_HEIGHT * TITLE_SCALE + 24, scale, limits, fmt);
  const yOf = valueToRow(plot, scale);
  const base = plot.y + plot.height;
  const lowest = Math.min(...limits.map((l) => l.value));
  const slot = plot.width / Math.max(1, bars.length);
  const barWidth = Math.max(1, Math.min(120, Math.floor(slot * 0.7)));
  return {
    width,
    height,
    plot,
    yTicks: scale.ticks,
    bars: bars.map((b, i) => {
      const top = Number.isFinite(b.value) ? yOf(b.value) : base;
      return {
        x: Math.round(plot.x + i * slot + (slot - barWidth) / 2),
        y: top,
        width: barWidth,
        height: base - top,
        label: b.label,
        value: b.value,
        color: b.value > lowest ? THRESHOLD_COLOR : paletteColor(0),
      };
    }),
    thresholds: placeThresholds(limits, scale, yOf),
    yOf,
  };
}

function plotRect(
  width: number,
  height: number,
  top: number,
  scale: Scale,
  limits: Threshold[],
  fmt: (v: number) => string,
): Rect {
  const labelWidth = Math.max(0, ...scale.ticks.map((t) => textWidth(truncate(fmt(t), 12))));
  const visible = limits.filter((l) => l.value >= scale.min && l.value <= scale.max);
  // The right gutter holds threshold labels, so they never cover the newest data.
  const gutter = Math.max(16, ...visible.map((l) => textWidth(thresholdText(l, fmt)) + 8));
  const x = MARGIN + labelWidth + 8;
  const bottom = height - MARGIN - GLYPH_HEIGHT - 6;
  return { x, y: top, width: Math.max(10, width - MARGIN - gutter - x), height: Math.max(10, bottom - top) };
}

function valueToRow(plot: Rect, scale: Scale): (v: number) => number {
  return (v) => {
    const clamped = Math.min(scale.max, Math.max(scale.min, v));
    return (
      plot.y +
      plot.height -
      1 -
      Math.round(((clamped - scale.min) / (scale.max - scale.min)) * (plot.height - 1))
    );
  };
}

function placeThresholds(limits: Threshold[], scale: Scale, yOf: (v: number) => number): PlacedThreshold[] {
  // A threshold outside a fixed axis would be drawn clamped at the edge and misread as a real level.
  const visible = limits
    .filter((l) => l.value >= scale.min && l.value <= scale.max)
    .map((l) => ({ ...l, y: yOf(l.value), labelY: yOf(l.value) - 3 }))
    .sort((a, b) => a.y - b.y);
  for (let i = 1; i < visible.length; i++) {
    const prev = visible[i - 1];
    const cur = visible[i];
    if (prev && cur) cur.labelY = Math.max(cur.labelY, prev.labelY + LINE_HEIGHT - 2);
  }
  return visible;
}

function timeTicks(tMin: number, tMax: number, plotWidth: number): number[] {
  const maxTicks = Math.max(2, Math.floor(plotWidth / 60));
  const day = 1440 * MINUTE;
  const step =
    TIME_STEPS.find((s) => (tMax - tMin) / s <= maxTicks - 1) ??
    Math.ceil((tMax - tMin) / maxTicks / day) * day;
  const ticks: number[] = [];
  for (let t = Math.ceil(tMin / step) * step; t <= tMax; t += step) ticks.push(t);
  return ticks;
}

function layoutLegend(series: Series[], left: number, right: number, top: number): LegendEntry[] {
  const entries: LegendEntry[] = [];
  const maxChars = Math.min(40, Math.floor((right - left - SWATCH + 1) / ADVANCE));
  const entryEnd = (e: LegendEntry) => e.x + SWATCH + textWidth(e.text);
  let x = left;
  let row = 0;
  for (const [i, s] of series.entries()) {
    const text = truncate(s.name, maxChars, 'middle');
    if (x > left && x + SWATCH + textWidth(text) > right) [x, row] = [left, row + 1];
    if (row === MAX_LEGEND_ROWS) break;
    const entry = { x, y: top + row * LINE_HEIGHT, text, color: paletteColor(i) };
    entries.push(entry);
    x = entryEnd(entry) + 16;
  }
  if (entries.length === series.length) return entries;
  // Say how many series the legend could not name instead of dropping them silently.
  const more = () => `+${series.length - entries.length} more`;
  let last = entries.at(-1);
  while (last && entryEnd(last) + 16 + textWidth(more()) > right) {
    entries.pop();
    last = entries.at(-1);
  }
  entries.push({ x: last ? entryEnd(last) + 16 : left, y: last?.y ?? top, text: more(), color: undefined });
  return entries;
}

function drawSeries(
  img: PNG,
  points: Point[],
  color: Rgb,
  xOf: (t: number) => number,
  yOf: (v: number) => number,
): void {
  const sorted = points.filter((p) => isTime(p?.t)).sort((a, b) => a.t - b.t);
  // A missed scrape leaves a hole in time rather than a NaN: break the line there too.
  const steps = sorted
    .slice(1)
    .map((p, i) => p.t - (sorted[i]?.t ?? p.t))
    .filter((d) => d > 0)
    .sort((a, b) => a - b);
  const maxGap = 3 * (steps[Math.floor(steps.length / 2)] ?? Infinity);
  let prev: { x: number; y: number; t: number } | undefined;
  let runLength = 0;
  const endRun = () => {
    // A lone sample between gaps would be invisible as a zero-length line.
    if (prev && runLength === 1) fillRect(img, prev.x - 1, prev.y - 1, 4, 4, color);
    prev = undefined;
    runLength = 0;
  };
  for (const p of sorted) {
    if (!Number.isFinite(p.v) || (prev && p.t - prev.t > maxGap)) endRun();
    if (!Number.isFinite(p.v)) continue;
    const cur = { x: xOf(p.t), y: yOf(p.v), t: p.t };
    if (prev) drawLine(img, prev.x, prev.y, cur.x, cur.y, color);
    prev = cur;
    runLength++;
  }
  endRun();
}

function drawGrid(img: PNG, plot: Rect, rows: number[], columns: number[]): void {
  for (const y of rows) fillRect(img, plot.x, y, plot.width, 1, GRID_COLOR);
  for (const x of columns) fillRect(img, x, plot.y, 1, plot.height, GRID_COLOR);
}

function drawAxes(img: PNG, plot: Rect): void {
  fillRect(img, plot.x - 1, plot.y, 1, plot.height + 1, AXIS_COLOR);
  fillRect(img, plot.x - 1, plot.y + plot.height, plot.width + 1, 1, AXIS_COLOR);
}

function drawYLabels(
  img: PNG,
  plot: Rect,
  ticks: number[],
  yOf: (v: number) => number,
  fmt: (v: number) => string,
) {
  for (const t of ticks) {
    const text = truncate(fmt(t), 12);
    drawText(img, text, plot.x - 8 - textWidth(text), yOf(t) - 3, TEXT_COLOR);
    fillRect(img, plot.x - 4, yOf(t), 3, 1, AXIS_COLOR);
  }
}

function drawThresholdLines(img: PNG, plot: Rect, thresholds: PlacedThreshold[]): void {
  for (const th of thresholds) {
    for (let x = plot.x; x < plot.x + plot.width; x++) {
      if ((x - plot.x) % 9 < 5) fillRect(img, x, th.y, 1, 2, THRESHOLD_COLOR);
    }
  }
}

function drawThresholdLabels(
  img: PNG,
  plot: Rect,
  thresholds: PlacedThreshold[],
  fmt: (v: number) => string,
) {
  for (const th of thresholds)
    drawText(img, thresholdText(th, fmt), plot.x + plot.width + 6, th.labelY, THRESHOLD_COLOR);
}

function thresholdText(th: Threshold, fmt: (v: number) => string): string {
  return truncate(th.label || fmt(th.value), 16);
}

function drawTitle(img: PNG, title: string): void {
  const maxChars = Math.floor((img.width - 2 * MARGIN + TITLE_SCALE) / (ADVANCE * TITLE_SCALE));
  drawText(img, truncate(title ?? '', maxChars), MARGIN, MARGIN, TEXT_COLOR, TITLE_SCALE);
}

function noData(img: PNG): Buffer {
  const text = 'no data';
  const x = Math.round((img.width - textWidth(text, 2)) / 2);
  drawText(img, text, x, Math.round((img.height - GLYPH_HEIGHT * 2) / 2), TEXT_COLOR, 2);
  return encode(img);
}
