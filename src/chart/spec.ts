// Chart input specs, layout result types and the shared colour palette.

export interface Point {
  /** epoch ms */
  t: number;
  v: number;
}
export interface Series {
  name: string;
  points: Point[];
}
export interface Threshold {
  value: number;
  label: string;
}
export interface LineChartSpec {
  title: string;
  series: Series[];
  yLabel?: string;
  yMin?: number;
  yMax?: number;
  thresholds?: Threshold[];
  width?: number;
  height?: number;
  formatY?: (v: number) => string;
}
export interface Bar {
  label: string;
  value: number;
}
export interface BarChartSpec {
  title: string;
  bars: Bar[];
  yMax?: number;
  thresholds?: Threshold[];
  width?: number;
  height?: number;
  formatY?: (v: number) => string;
}

export type Rgb = readonly [number, number, number];
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}
export interface LegendEntry {
  x: number;
  y: number;
  text: string;
  /** undefined for the "+N more" marker */
  color: Rgb | undefined;
}
export interface PlacedThreshold {
  value: number;
  label: string;
  /** row of the dashed line */
  y: number;
  /** top row of the label in the right gutter (nudged so labels do not overlap) */
  labelY: number;
}
export interface LineChartLayout {
  width: number;
  height: number;
  plot: Rect;
  yTicks: number[];
  xTicks: number[];
  legend: LegendEntry[];
  thresholds: PlacedThreshold[];
  xOf: (t: number) => number;
  yOf: (v: number) => number;
}
export interface PlacedBar extends Rect {
  label: string;
  value: number;
  color: Rgb;
}
export interface BarChartLayout {
  width: number;
  height: number;
  plot: Rect;
  yTicks: number[];
  bars: PlacedBar[];
  thresholds: PlacedThreshold[];
  yOf: (v: number) => number;
}

// Red is kept out of the palette: on every chart it means "threshold" or "over threshold".
export const PALETTE: readonly Rgb[] = [
  [31, 119, 180],
  [255, 127, 14],
  [44, 160, 44],
  [148, 103, 189],
  [140, 86, 75],
  [227, 119, 194],
  [127, 127, 127],
  [188, 189, 34],
  [23, 190, 207],
];
export const THRESHOLD_COLOR: Rgb = [214, 39, 40];
export const BACKGROUND: Rgb = [255, 255, 255];
export const TEXT_COLOR: Rgb = [33, 33, 33];
