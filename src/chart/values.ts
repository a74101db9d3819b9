// Pure value helpers for charts: number formatting, truncation, extents, sizes and validity checks.
import { PALETTE, TEXT_COLOR, type Point, type Rgb, type Threshold } from './spec.ts';

// Date cannot represent times beyond this, and toISOString would throw.
export const MAX_TIME = 8.64e15;

/** Shortens to `max` characters; 'middle' keeps both ends, where pod names carry their unique suffix. */
export function truncate(text: string, max: number, keep: 'start' | 'middle' = 'start'): string {
  const chars = Array.from(text);
  if (chars.length <= max) return text;
  if (max <= 3) return chars.slice(0, Math.max(0, max)).join('');
  if (keep === 'start') return chars.slice(0, max - 2).join('') + '..';
  const tail = Math.floor((max - 2) / 2);
  return chars.slice(0, max - 2 - tail).join('') + '..' + chars.slice(chars.length - tail).join('');
}

export function formatNumber(v: number): string {
  const round = (x: number) => String(Number(x.toPrecision(4)));
  const abs = Math.abs(v);
  if (abs >= 1e9) return `${round(v / 1e9)}G`;
  if (abs >= 1e6) return `${round(v / 1e6)}M`;
  if (abs >= 1e4) return `${round(v / 1e3)}k`;
  return round(v);
}

export function canvasSize(spec: { width?: number; height?: number }): { width: number; height: number } {
  // Bounded so a bad size neither allocates gigabytes nor leaves no room for the plot.
  const size = (v: number | undefined, fallback: number, min: number) =>
    isFiniteNumber(v) ? Math.min(4000, Math.max(min, Math.round(v))) : fallback;
  return { width: size(spec.width, 800, 240), height: size(spec.height, 400, 160) };
}

export function finiteThresholds(thresholds: Threshold[] | undefined): Threshold[] {
  return (thresholds ?? []).filter((th) => isFiniteNumber(th?.value));
}

export function paletteColor(i: number): Rgb {
  // More series than colours repeat the palette; the legend still names each one.
  return PALETTE[i % PALETTE.length] ?? TEXT_COLOR;
}

export function extent(values: number[]): [number, number] | undefined {
  if (values.length === 0) return undefined;
  let [min, max] = [Infinity, -Infinity];
  for (const v of values) [min, max] = [Math.min(min, v), Math.max(max, v)];
  return [min, max];
}

export function isPresent(p: Point): boolean {
  return isTime(p?.t) && Number.isFinite(p.v);
}

export function isTime(t: number | undefined): t is number {
  return isFiniteNumber(t) && Math.abs(t) <= MAX_TIME;
}

export function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}
