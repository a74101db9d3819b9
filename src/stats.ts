// Statistics for judging cloud against legacy: the Mann–Whitney U test (normal approximation, tie-corrected).

/** erfc(x), Numerical Recipes' Chebyshev fit: fractional error below 1.2e-7 everywhere. */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 +
                            t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** P(Z ≤ z) for a standard normal Z. */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
}

/** `greater`: x tends to be larger than y; `less`: smaller; `two-sided`: either. */
export type Alternative = 'greater' | 'less' | 'two-sided';

export interface MannWhitney {
  /** U of x: the pairs (x, y) with x > y, ties counting one half. */
  u: number;
  /** Standardised U, continuity- and tie-corrected (0 when every value is tied). */
  z: number;
  p: number;
}

/**
 * Mann–Whitney U test of x against y by the normal approximation with tie correction and continuity correction
 * (what scipy.stats.mannwhitneyu(method="asymptotic") and R's wilcox.test(exact = FALSE) compute).
 */
export function mannWhitney(
  x: readonly number[],
  y: readonly number[],
  alternative: Alternative,
): MannWhitney {
  const n1 = x.length;
  const n2 = y.length;
  if (n1 === 0 || n2 === 0) throw new RangeError('mannWhitney needs at least one value on each side');
  const all = [...x.map((v) => ({ v, fromX: true })), ...y.map((v) => ({ v, fromX: false }))].sort(
    (a, b) => a.v - b.v,
  );
  const n = all.length;
  let rankSumX = 0;
  let tieTerm = 0;
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && all[j + 1]?.v === all[i]?.v) j++;
    const t = j - i + 1;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) if (all[k]?.fromX) rankSumX += rank;
    tieTerm += t * t * t - t;
    i = j + 1;
  }
  const u = rankSumX - (n1 * (n1 + 1)) / 2;
  const mean = (n1 * n2) / 2;
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  if (!(variance > 0)) return { u, z: 0, p: 1 };
  const sd = Math.sqrt(variance);
  if (alternative === 'greater') {
    const z = (u - mean - 0.5) / sd;
    // The upper tail as Φ(−z), not 1 − Φ(z), which rounds to 0 for a large z.
    return { u, z, p: normalCdf(-z) };
  }
  if (alternative === 'less') {
    const z = (u - mean + 0.5) / sd;
    return { u, z, p: normalCdf(z) };
  }
  const z = (Math.abs(u - mean) - 0.5) / sd;
  return { u, z: Math.sign(u - mean) * Math.max(0, z), p: Math.min(1, 2 * normalCdf(-Math.max(0, z))) };
}

export interface ComparisonSettings {
  /** Smallest relative change of the median that counts (0.1: cloud's median at least 10 % worse). */
  effect: number;
  /** 0.95: a difference this large would show by chance less than 5 % of the time. */
  confidence: number;
  /** Fewer values on either side is "not enough data". */
  minSamples: number;
}

export type Decision = 'worse' | 'same' | 'not_enough_data';

export interface Comparison {
  decision: Decision;
  legacy: { n: number; median: number };
  cloud: { n: number; median: number };
  /** Present when the test ran. */
  p?: number;
  u?: number;
  /** Cloud's median over legacy's (Infinity when legacy's median is 0 and cloud's is not). */
  ratio?: number;
}

function ratioOf(cloud: number, legacy: number): number {
  if (legacy === 0) return cloud === 0 ? 1 : cloud > 0 ? Infinity : -Infinity;
  return cloud / legacy;
}

/**
 * Cloud against legacy: "worse" needs both a significant one-sided Mann–Whitney test in the bad direction and a
 * median at least `effect` worse; NaN/±Inf values are dropped, and too few values on either side decide nothing.
 */
export function compareStacks(
  legacyValues: readonly number[],
  cloudValues: readonly number[],
  worseWhen: 'higher' | 'lower',
  settings: ComparisonSettings,
): Comparison {
  const legacy = legacyValues.filter((v) => Number.isFinite(v));
  const cloud = cloudValues.filter((v) => Number.isFinite(v));
  const figures = {
    legacy: { n: legacy.length, median: median(legacy) },
    cloud: { n: cloud.length, median: median(cloud) },
  };
  if (legacy.length < settings.minSamples || cloud.length < settings.minSamples) {
    return { decision: 'not_enough_data', ...figures };
  }
  const test = mannWhitney(cloud, legacy, worseWhen === 'higher' ? 'greater' : 'less');
  const ratio = ratioOf(figures.cloud.median, figures.legacy.median);
  const bigEnough =
    worseWhen === 'higher'
      ? figures.cloud.median > figures.legacy.median &&
        figures.cloud.median >= figures.legacy.median + Math.abs(figures.legacy.median) * settings.effect
      : figures.cloud.median < figures.legacy.median &&
        figures.cloud.median <= figures.legacy.median - Math.abs(figures.legacy.median) * settings.effect;
  const significant = test.p < 1 - settings.confidence;
  return {
    decision: significant && bigEnough ? 'worse' : 'same',
    ...figures,
    p: test.p,
    u: test.u,
    ratio,
  };
}
