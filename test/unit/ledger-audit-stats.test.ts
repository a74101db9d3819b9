// Bucket sizing from statistics and the one-pass double-entry sums: pure parts, no database.
import assert from 'node:assert/strict';
import { MAX_RANGES, rangeFilter } from '../../src/adapters/ledger/audit-checks.ts';
import { addDecimal, decimal, sameDecimal, unbalancedRanges } from '../../src/adapters/ledger/audit-scan.ts';
import {
  groupRanges,
  interpolate,
  MAX_PAIRS,
  type TableStats,
} from '../../src/adapters/ledger/audit-stats.ts';

function stats(bounds: string[], reltuples: number, extra: Partial<TableStats> = {}): TableStats {
  return {
    reltuples,
    relpages: 1000,
    pages: 1000,
    columns: new Map([
      ['id', { bounds, correlation: 1 }],
      ['txn', { bounds, correlation: 1 }],
    ]),
    ...extra,
  };
}

const ID = { name: 'id', baseName: 'int8' };

describe('ledger audit: buckets from statistics', () => {
  it('interpolates integer thresholds inside the histogram, about one per rowsPerRange rows', () => {
    const cut = interpolate(stats(['0', '1000', '2000'], 2000), ID, 100);
    assert.ok(cut);
    assert.equal(cut.length, 21);
    assert.deepEqual(cut.slice(0, 3), ['0', '100', '200']);
    assert.equal(cut.at(-1), '2000');
    assert.ok(
      cut.every((k, i) => i === 0 || BigInt(k) > BigInt(cut[i - 1] ?? '0')),
      'strictly ascending',
    );
  });

  it('spreads rows added since ANALYZE between the last bound and the actual largest key', () => {
    // 1000 pages now against 500 at ANALYZE: about 2000 more rows than the histogram knows, up to key 4000.
    const cut = interpolate(
      stats(['0', '1000', '2000'], 2000, { relpages: 500, pages: 1000 }),
      ID,
      100,
      '4000',
    );
    assert.ok(cut);
    assert.equal(cut.at(-1), '4000');
    assert.ok(cut.length >= 40, `thresholds ${cut.length}`);
  });

  it('says nothing without a histogram, for keys that are not integers, or for a table never analysed', () => {
    assert.equal(interpolate(stats([], 2000), ID, 100), undefined);
    assert.equal(interpolate(stats(['a', 'b'], 2000), { name: 'id', baseName: 'text' }, 100), undefined);
    assert.equal(interpolate(stats(['0', '1000'], -1), ID, 100), undefined);
  });

  it('keeps (cell, group range) pairs bounded when key and group do not follow each other', () => {
    const bounds = Array.from({ length: 101 }, (_, i) => String(i * 100_000));
    const s = stats(bounds, 10_000_000);
    s.columns.set('txn', { bounds, correlation: 0.01 });
    const ranges = groupRanges(s, 'id', { name: 'txn', baseName: 'int8' }, 10_000, 781);
    assert.ok(ranges.length * 10_000 <= MAX_PAIRS, `ranges ${ranges.length}`);
    const aligned = groupRanges(
      stats(bounds, 10_000_000),
      'id',
      { name: 'txn', baseName: 'int8' },
      10_000,
      781,
    );
    assert.ok(aligned.length > 10_000, `aligned ranges ${aligned.length}`);
  });
});

describe('ledger audit: double-entry sums from the scan', () => {
  it('adds decimals exactly, whatever their scale', () => {
    const sum = addDecimal(addDecimal(decimal('0.10'), decimal('0.2')), decimal('-0.300'));
    assert.ok(sameDecimal(sum, decimal('0')));
    assert.ok(!sameDecimal(decimal('12345678901234567890.01'), decimal('12345678901234567890.02')));
    assert.ok(!sameDecimal(decimal('NaN'), decimal('NaN')), 'NaN never balances');
  });

  it('reads again only the ranges whose weighted debits and credits differ, or that hold a bad leg', () => {
    const ranges = new Map([
      [3, { debit: decimal('10.00'), credit: decimal('10'), bad: 0 }],
      [1, { debit: decimal('10.00'), credit: decimal('9.99'), bad: 0 }],
      [7, { debit: decimal('5'), credit: decimal('5'), bad: 1 }],
    ]);
    assert.deepEqual(unbalancedRanges(ranges), [1, 7]);
  });

  it('reads flagged ranges by their bounds, open at the ends, and the whole window past MAX_RANGES', () => {
    const f = rangeFilter('"g"', 'bigint', { thresholds: ['10', '20', '30'], ranges: [0, 2, 3] }, 5);
    assert.equal(
      f.where,
      'AND (("g" < $5::text::bigint) OR ("g" >= $6::text::bigint AND "g" < $7::text::bigint) OR ("g" >= $8::text::bigint))',
    );
    assert.deepEqual(f.values, ['10', '20', '30', '30']);
    const many = Array.from({ length: MAX_RANGES + 1 }, (_, i) => i);
    assert.deepEqual(rangeFilter('"g"', 'bigint', { thresholds: ['1'], ranges: many }, 5), {
      where: '',
      values: [],
    });
    assert.deepEqual(rangeFilter('"g"', 'bigint', undefined, 5), { where: '', values: [] });
  });
});
