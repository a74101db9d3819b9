// Raster primitives on a pngjs canvas: fill, lines, bitmap-font text, and PNG encoding.
import { PNG } from 'pngjs';
import { ADVANCE, GLYPH_WIDTH, glyph } from './font.ts';
import { BACKGROUND, type Rgb } from './spec.ts';

export function canvas(width: number, height: number): PNG {
  const img = new PNG({ width, height });
  fillRect(img, 0, 0, width, height, BACKGROUND);
  return img;
}

export function encode(img: PNG): Buffer {
  return PNG.sync.write(img, { colorType: 2 });
}

export function fillRect(img: PNG, x: number, y: number, w: number, h: number, c: Rgb): void {
  const x1 = Math.min(img.width, x + w);
  const y1 = Math.min(img.height, y + h);
  for (let row = Math.max(0, y); row < y1; row++) {
    for (let col = Math.max(0, x); col < x1; col++) {
      const i = (row * img.width + col) * 4;
      img.data[i] = c[0];
      img.data[i + 1] = c[1];
      img.data[i + 2] = c[2];
      img.data[i + 3] = 255;
    }
  }
}

/** Bresenham with a 2x2 brush, so lines stay visible after Slack scales the image down. */
export function drawLine(img: PNG, x0: number, y0: number, x1: number, y1: number, c: Rgb): void {
  const dx = Math.abs(x1 - x0);
  const dy = -Math.abs(y1 - y0);
  const sx = x0 < x1 ? 1 : -1;
  const sy = y0 < y1 ? 1 : -1;
  let [x, y, err] = [x0, y0, dx + dy];
  for (;;) {
    fillRect(img, x, y, 2, 2, c);
    if (x === x1 && y === y1) return;
    const e2 = 2 * err;
    if (e2 >= dy) [err, x] = [err + dy, x + sx];
    if (e2 <= dx) [err, y] = [err + dx, y + sy];
  }
}

export function drawText(img: PNG, text: string, x: number, y: number, c: Rgb, scale = 1): void {
  let left = x;
  for (const ch of text) {
    const rows = glyph(ch);
    for (let r = 0; r < rows.length; r++) {
      for (let col = 0; col < GLYPH_WIDTH; col++) {
        if (((rows[r] ?? 0) >> (GLYPH_WIDTH - 1 - col)) & 1) {
          fillRect(img, left + col * scale, y + r * scale, scale, scale, c);
        }
      }
    }
    left += ADVANCE * scale;
  }
}
