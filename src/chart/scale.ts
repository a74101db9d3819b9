// Value-axis scales: picks a range and 4-6 round ticks for the plotted values.
import { extent, isFiniteNumber } from './values.ts';

export interface Scale {
  min: number;
  max: number;
  ticks: number[];
}

/** An axis range with 4-6 round ticks covering `values` (and zero), unless the caller fixed an end. */
export function niceScale(values: number[], fixedMin?: number, fixedMax?: number): Scale {
  const lo = isFiniteNumber(fixedMin) ? fixedMin : undefined;
  const hi = isFiniteNumber(fixedMax) ? fixedMax : undefined;
  // Zero stays on the axis so that a small wiggle does not look like a cliff.
  let [dMin, dMax] = extent([0, ...values]) ?? [0, 1];
  if (lo !== undefined) [dMin, dMax] = [lo, Math.max(dMax, lo)];
  if (hi !== undefined) [dMin, dMax] = [Math.min(dMin, hi), hi];
  if (!(dMax > dMin)) dMax = dMin + 1;

  const magnitude = 10 ** Math.floor(Math.log10((dMax - dMin) / 5));
  let best: { scale: Scale; score: number[] } | undefined;
  for (const m of [1, 2, 2.5, 5, 10, 20, 25, 50]) {
    const step = m * magnitude;
    const min = lo ?? Math.floor(dMin / step + 1e-9) * step;
    const max = hi ?? Math.ceil(dMax / step - 1e-9) * step;
    const ticks: number[] = [];
    for (let k = Math.ceil(min / step - 1e-9); k <= Math.floor(max / step + 1e-9); k++) {
      ticks.push(Number((k * step).toPrecision(12)));
    }
    const off = Math.abs(ticks.length - 5);
    const inRange = ticks.length >= 4 && ticks.length <= 6;
    // Prefer 4-6 ticks, then the tightest range, then steps of 1/2/5 over 2.5, then five ticks.
    const score = inRange ? [0, 0, max - min, m % 2.5 === 0 && m % 5 !== 0 ? 1 : 0, off] : [1, off, 0, 0, 0];
    if (!best || compareScores(score, best.score) < 0) best = { scale: { min, max, ticks }, score };
  }
  return best?.scale ?? { min: dMin, max: dMax, ticks: [dMin, dMax] };
}

export function compareScores(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
