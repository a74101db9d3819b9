// Decodes the rendered PNGs and checks what a reader would see: colours at the right places, gaps, thresholds.
import assert from 'node:assert/strict';
import { PNG } from 'pngjs';
import {
  BACKGROUND,
  PALETTE,
  THRESHOLD_COLOR,
  barChartLayout,
  lineChartLayout,
  renderBarChart,
  renderLineChart,
} from '../../../src/chart/png.ts';
import type { BarChartSpec, LineChartSpec, Rgb, Series } from '../../../src/chart/png.ts';

const T0 = Date.UTC(2024, 4, 1, 13, 45);
const MINUTE = 60_000;

function decode(buf: Buffer): PNG {
  return PNG.sync.read(buf);
}

function pixel(img: PNG, x: number, y: number): Rgb {
  const i = (y * img.width + x) * 4;
  return [img.data[i] ?? -1, img.data[i + 1] ?? -1, img.data[i + 2] ?? -1];
}

function same(a: Rgb, b: Rgb): boolean {
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2];
}

function colorNear(img: PNG, x: number, y: number, color: Rgb, radius = 2): boolean {
  for (let dy = -radius; dy <= radius; dy++) {
    for (let dx = -radius; dx <= radius; dx++) {
      if (same(pixel(img, x + dx, y + dy), color)) return true;
    }
  }
  return false;
}

function countInRect(
  img: PNG,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  test: (c: Rgb) => boolean,
): number {
  let n = 0;
  for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) if (test(pixel(img, x, y))) n++;
  return n;
}

const isDark = (c: Rgb) => c[0] < 80 && c[1] < 80 && c[2] < 80;

function memorySpec(): LineChartSpec {
  const ramp = (base: number) => Array.from({ length: 31 }, (_, k) => ({ t: T0 + k * MINUTE, v: base + k }));
  return {
    title: 'payments: memory % of limit',
    series: [
      { name: 'payments-7d9f-a1', points: ramp(20) },
      { name: 'payments-7d9f-b2', points: ramp(50) },
    ],
    yMin: 0,
    yMax: 100,
    yLabel: 'memory % of limit',
    thresholds: [{ value: 90, label: 'trip 90%' }],
    formatY: (v) => `${v}%`,
  };
}

describe('chart/png', () => {
  describe('renderLineChart', () => {
    it('renders a PNG of the default size', () => {
      // Arrange
      const spec = memorySpec();

      // Act
      const buf = renderLineChart(spec);

      // Assert
      assert.deepEqual([...buf.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      const img = decode(buf);
      assert.equal(img.width, 800);
      assert.equal(img.height, 400);
    });

    it('honours a custom size', () => {
      const img = decode(renderLineChart({ ...memorySpec(), width: 640, height: 320 }));

      assert.equal(img.width, 640);
      assert.equal(img.height, 320);
    });

    it('draws each series in its palette colour at its points', () => {
      // Arrange
      const spec = memorySpec();
      const layout = lineChartLayout(spec);

      // Act
      const img = decode(renderLineChart(spec));

      // Assert
      const t = T0 + 10 * MINUTE;
      assert.ok(
        colorNear(img, layout.xOf(t), layout.yOf(30), PALETTE[0] ?? BACKGROUND),
        'first series at (t+10m, 30)',
      );
      assert.ok(
        colorNear(img, layout.xOf(t), layout.yOf(60), PALETTE[1] ?? BACKGROUND),
        'second series at (t+10m, 60)',
      );
      assert.ok(
        !colorNear(img, layout.xOf(t), layout.yOf(45), PALETTE[0] ?? BACKGROUND),
        'nothing where no point is',
      );
      assert.ok(layout.yOf(60) < layout.yOf(30), 'higher values are drawn higher');
    });

    it('shows a legend swatch per series in its colour', () => {
      const spec = memorySpec();
      const layout = lineChartLayout(spec);

      const img = decode(renderLineChart(spec));

      assert.equal(layout.legend.length, 2);
      layout.legend.forEach((entry, i) => {
        assert.ok(same(pixel(img, entry.x + 2, entry.y + 2), PALETTE[i] ?? BACKGROUND), `swatch ${i}`);
      });
    });

    it('draws a dashed red line on the threshold row', () => {
      // Arrange
      const spec = memorySpec();
      const layout = lineChartLayout(spec);
      const row = layout.yOf(90);

      // Act
      const img = decode(renderLineChart(spec));

      // Assert
      const { x, width } = layout.plot;
      const red = countInRect(img, x, row, x + width - 1, row, (c) => same(c, THRESHOLD_COLOR));
      assert.ok(red > width / 3, `dashes cover a good part of the row (${red}/${width})`);
      assert.ok(red < width, 'the line is dashed, not solid');
      const elsewhere = layout.yOf(50);
      assert.equal(
        countInRect(img, x, elsewhere, x + width - 1, elsewhere, (c) => same(c, THRESHOLD_COLOR)),
        0,
      );
    });

    it('leaves a gap, not a drop to zero, where a value is NaN', () => {
      // Arrange
      const points = [0, 1, 2, 3, 4].map((k) => ({ t: T0 + k * 5 * MINUTE, v: k === 2 ? NaN : 50 }));
      const spec: LineChartSpec = { title: 'gap', series: [{ name: 'pod', points }], yMin: 0, yMax: 100 };
      const layout = lineChartLayout(spec);
      const color = PALETTE[0] ?? BACKGROUND;
      const y = layout.yOf(50);
      const [x0, x1, x3] = [0, 1, 3].map((k) => layout.xOf(T0 + k * 5 * MINUTE)) as [number, number, number];

      // Act
      const img = decode(renderLineChart(spec));

      // Assert
      assert.ok(
        countInRect(img, x0 + 3, y - 2, x1 - 3, y + 2, (c) => same(c, color)) > 0,
        'joined where data exists',
      );
      assert.equal(
        countInRect(img, x1 + 3, y - 2, x3 - 3, y + 2, (c) => same(c, color)),
        0,
        'gap across the NaN',
      );
      assert.equal(
        countInRect(img, x1 + 3, layout.yOf(0) - 2, x3 - 3, layout.yOf(0), (c) => same(c, color)),
        0,
        'no drop to zero',
      );
    });

    it('leaves a gap where samples are missing in time', () => {
      const times = [0, 1, 2, 3, 10, 11, 12].map((m) => T0 + m * MINUTE);
      const spec: LineChartSpec = {
        title: 'missed scrapes',
        series: [{ name: 'pod', points: times.map((t) => ({ t, v: 40 })) }],
        yMin: 0,
        yMax: 100,
      };
      const layout = lineChartLayout(spec);

      const img = decode(renderLineChart(spec));

      const [a, b] = [layout.xOf(T0 + 3 * MINUTE), layout.xOf(T0 + 10 * MINUTE)];
      const y = layout.yOf(40);
      assert.equal(
        countInRect(img, a + 3, y - 2, b - 3, y + 2, (c) => same(c, PALETTE[0] ?? BACKGROUND)),
        0,
      );
    });

    it('clamps values outside the axis range to its edge', () => {
      const spec: LineChartSpec = {
        title: 'clamped',
        series: [{ name: 'pod', points: [0, 1, 2].map((k) => ({ t: T0 + k * MINUTE, v: 150 })) }],
        yMin: 0,
        yMax: 100,
      };
      const layout = lineChartLayout(spec);

      const img = decode(renderLineChart(spec));

      assert.equal(layout.yOf(150), layout.plot.y);
      assert.ok(colorNear(img, layout.xOf(T0 + MINUTE), layout.plot.y, PALETTE[0] ?? BACKGROUND));
    });

    it('picks 4 to 6 y ticks and time ticks on whole minutes', () => {
      const layout = lineChartLayout({
        title: 'ratio',
        series: [
          {
            name: '5xx',
            points: [
              { t: T0 + 7_000, v: 0.013 },
              { t: T0 + 30 * MINUTE, v: 0.034 },
            ],
          },
        ],
      });

      assert.ok(layout.yTicks.length >= 4 && layout.yTicks.length <= 6, `${layout.yTicks}`);
      assert.ok(layout.xTicks.length >= 2);
      for (const t of layout.xTicks) assert.equal(t % MINUTE, 0);
    });

    const empty: Array<[string, Series[]]> = [
      ['no series', []],
      ['series without points', [{ name: 'pod', points: [] }]],
      [
        'only NaN values',
        [
          {
            name: 'pod',
            points: [
              { t: T0, v: NaN },
              { t: T0 + MINUTE, v: NaN },
            ],
          },
        ],
      ],
    ];
    for (const [name, series] of empty) {
      it(`says "no data" for ${name}`, () => {
        // Act
        const img = decode(renderLineChart({ title: 'memory', series }));

        // Assert
        assert.equal(img.width, 800);
        assert.equal(img.height, 400);
        assert.ok(countInRect(img, 300, 180, 500, 220, isDark) > 20, 'dark text in the middle');
      });
    }

    it('gives identical bytes for identical input', () => {
      const first = renderLineChart(memorySpec());
      const second = renderLineChart(memorySpec());

      assert.ok(first.equals(second));
    });
  });

  describe('renderBarChart', () => {
    function breakerSpec(): BarChartSpec {
      return {
        title: 'breaker metrics',
        bars: [
          { label: 'memory %', value: 93 },
          { label: 'payments-7d9f8b6c4-x2k9p', value: 40 },
          { label: 'cpu %', value: 89 },
        ],
        thresholds: [{ value: 90, label: 'trip' }],
      };
    }

    it('renders a PNG of the default size', () => {
      const img = decode(renderBarChart(breakerSpec()));

      assert.equal(img.width, 800);
      assert.equal(img.height, 400);
    });

    it('draws bars above the threshold in red and the others not', () => {
      // Arrange
      const spec = breakerSpec();
      const layout = barChartLayout(spec);

      // Act
      const img = decode(renderBarChart(spec));

      // Assert
      const colorOf = (i: number) => {
        const bar = layout.bars[i];
        assert.ok(bar);
        return pixel(img, bar.x + Math.floor(bar.width / 2), bar.y + bar.height - 3);
      };
      assert.deepEqual(colorOf(0), THRESHOLD_COLOR);
      assert.deepEqual(colorOf(1), PALETTE[0]);
      assert.deepEqual(colorOf(2), PALETTE[0]);
    });

    it('makes bar heights proportional to their values', () => {
      const layout = barChartLayout(breakerSpec());

      const [a, b] = [layout.bars[0]?.height ?? 0, layout.bars[1]?.height ?? 0];
      assert.ok(Math.abs(a / b - 93 / 40) < 0.05, `${a} / ${b}`);
    });

    it('draws the threshold as a dashed red line across the plot', () => {
      const spec = breakerSpec();
      const layout = barChartLayout(spec);
      const row = layout.yOf(90);

      const img = decode(renderBarChart(spec));

      const { x, width } = layout.plot;
      assert.ok(countInRect(img, x, row, x + width - 1, row, (c) => same(c, THRESHOLD_COLOR)) > width / 3);
    });

    it('says "no data" for no bars or only NaN values', () => {
      for (const bars of [[], [{ label: 'memory', value: NaN }]]) {
        const img = decode(renderBarChart({ title: 'breaker', bars }));

        assert.equal(img.width, 800);
        assert.ok(countInRect(img, 300, 180, 500, 220, isDark) > 20, 'dark text in the middle');
      }
    });

    it('gives identical bytes for identical input', () => {
      assert.ok(renderBarChart(breakerSpec()).equals(renderBarChart(breakerSpec())));
    });
  });
});
