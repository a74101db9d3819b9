// Durations as people type them ("90s", "15m", "4h", "1h30m") and as we print them back.

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)/;

/** Milliseconds for "15m", "1h30m", "2.5s"; undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  let rest = text.trim().toLowerCase();
  if (rest === '') return undefined;
  let total = 0;
  while (rest.length > 0) {
    const match = DURATION.exec(rest);
    if (!match?.[1] || !match[2]) return undefined;
    total += Number(match[1]) * (UNIT_MS[match[2]] ?? NaN);
    rest = rest.slice(match[0].length);
  }
  return Number.isFinite(total) ? Math.round(total) : undefined;
}

/** "1h 5m", "42s", "350ms": the two largest units, for cards and timelines. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return 'unknown';
  if (ms < 0) return `-${formatDuration(-ms)}`;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const parts: string[] = [];
  let seconds = Math.round(ms / 1000);
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    if (seconds >= size) {
      parts.push(`${Math.floor(seconds / size)}${unit}`);
      seconds %= size;
    }
  }
  return parts.slice(0, 2).join(' ');
}
