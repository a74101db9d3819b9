// Audit bookkeeping: progress and ETA reporting, and the classified, counted findings.
import {
  zeroCounts,
  type AuditOptions,
  type AuditProgress,
  type DifferenceClass,
  type DifferenceCounts,
  type LedgerDifference,
  type LedgerSide,
} from '../../ledger.ts';

export class Progress {
  #started: number;
  #weights: { scan: number; drill: number; invariant: number };
  #pages = { legacy: 0, cloud: 0 };
  #pagesDone = { legacy: 0, cloud: 0 };
  #drill = 0;
  #invariant = 0;
  rowsScanned = 0;
  #report: ((p: AuditProgress) => void) | undefined;
  #phase: AuditProgress['phase'] = 'scan';

  constructor(report: ((p: AuditProgress) => void) | undefined, withInvariant: boolean) {
    this.#started = performance.now();
    this.#report = report;
    this.#weights = withInvariant
      ? { scan: 0.75, drill: 0.1, invariant: 0.15 }
      : { scan: 0.9, drill: 0.1, invariant: 0 };
  }

  pages(side: LedgerSide, total: number): void {
    this.#pages[side] = Math.max(total, 1);
  }

  scanned(side: LedgerSide, pagesDone: number, rows: number): void {
    this.#pagesDone[side] = Math.min(pagesDone, this.#pages[side]);
    this.rowsScanned += rows;
    this.#emit('scan');
  }

  drill(fraction: number): void {
    this.#drill = fraction;
    this.#emit('drill');
  }

  invariant(fraction: number): void {
    this.#invariant = fraction;
    this.#emit('invariant');
  }

  get elapsedMs(): number {
    return performance.now() - this.#started;
  }

  #emit(phase: AuditProgress['phase']): void {
    this.#phase = phase;
    if (!this.#report) return;
    const scan =
      (this.#pagesDone.legacy + this.#pagesDone.cloud) / Math.max(this.#pages.legacy + this.#pages.cloud, 1);
    const fraction = Math.min(
      1,
      scan * this.#weights.scan +
        this.#drill * this.#weights.drill +
        this.#invariant * this.#weights.invariant,
    );
    const elapsedMs = this.elapsedMs;
    this.#report({
      phase: this.#phase,
      fraction,
      rowsScanned: this.rowsScanned,
      elapsedMs,
      ...(fraction > 0.02 && fraction < 1 ? { etaMs: (elapsedMs / fraction) * (1 - fraction) } : {}),
    });
  }
}

/** Classes about one key's rows on the two sides (partial and invariant are per side or per group). */
export const ROW_CLASSES = new Set<DifferenceClass>([
  'missing_in_legacy',
  'missing_in_cloud',
  'mismatched',
  'in_flight',
  'duplicate',
]);

/** Classifies, counts and hands on differences; stops the audit once the limit is passed. */
export class Findings {
  counts: DifferenceCounts = zeroCounts();
  found = 0;
  #max: number;
  #sink: AuditOptions['onDifference'];

  constructor(max: number, sink: AuditOptions['onDifference']) {
    this.#max = max;
    this.#sink = sink;
  }

  get full(): boolean {
    return this.found > this.#max;
  }

  get remaining(): number {
    return Math.max(0, this.#max + 1 - this.found);
  }

  /** Keys already reported as missing, mismatched, in flight or duplicate: each is reported once. */
  #keys = new Set<string>();

  /** Whether a key already has its one row-level report. */
  reported(key: string): boolean {
    return this.#keys.has(key);
  }

  async add(difference: LedgerDifference): Promise<void> {
    if (ROW_CLASSES.has(difference.class)) {
      if (this.#keys.has(difference.key)) return;
      this.#keys.add(difference.key);
    }
    this.counts[difference.class] += 1;
    this.found += 1;
    await this.#sink?.(difference);
  }
}
