/** RGB raster drawing for the overlay: grey image, label contours, burned-in text. Pure, no I/O. */
import { GLYPH_ADVANCE, GLYPH_HEIGHT, GLYPH_WIDTH, glyphPixel } from './font.js';

export interface RgbImage {
  readonly width: number;
  readonly height: number;
  /** Interleaved RGB, row-major (PlanarConfiguration 0). */
  readonly data: Uint8Array;
}

export function createImage(width: number, height: number): RgbImage {
  return { width, height, data: new Uint8Array(width * height * 3) };
}

function setPixel(image: RgbImage, x: number, y: number, rgb: readonly [number, number, number]): void {
  if (x < 0 || y < 0 || x >= image.width || y >= image.height) return;
  const i = (y * image.width + x) * 3;
  image.data[i] = rgb[0];
  image.data[i + 1] = rgb[1];
  image.data[i + 2] = rgb[2];
}

/** Window to the 1st..99th percentile, then draw each source pixel as a `scale` x `scale` grey block. */
export function drawGrey(image: RgbImage, pixels: ArrayLike<number>, rows: number, columns: number, scale: number, top = 0): void {
  const sorted = Float32Array.from(pixels).sort();
  const lo = sorted[Math.floor(0.01 * (sorted.length - 1))] ?? 0;
  const hi = sorted[Math.floor(0.99 * (sorted.length - 1))] ?? 1;
  const range = hi > lo ? hi - lo : 1;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) {
      const v = Math.round(Math.min(1, Math.max(0, (pixels[r * columns + c]! - lo) / range)) * 255);
      for (let dy = 0; dy < scale; dy++) for (let dx = 0; dx < scale; dx++) setPixel(image, c * scale + dx, top + r * scale + dy, [v, v, v]);
    }
  }
}

/**
 * Contour of one label: source pixels with that label that touch (4-neighbourhood) a pixel without
 * it or the border, drawn as `scale` x `scale` blocks in the given colour.
 */
export function drawContour(image: RgbImage, labels: Uint8Array, rows: number, columns: number, value: number, scale: number, rgb: readonly [number, number, number], top = 0): number {
  let drawn = 0;
  const at = (r: number, c: number): boolean => r >= 0 && c >= 0 && r < rows && c < columns && labels[r * columns + c] === value;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) {
      if (!at(r, c)) continue;
      if (at(r - 1, c) && at(r + 1, c) && at(r, c - 1) && at(r, c + 1)) continue;
      drawn++;
      for (let dy = 0; dy < scale; dy++) for (let dx = 0; dx < scale; dx++) setPixel(image, c * scale + dx, top + r * scale + dy, rgb);
    }
  }
  return drawn;
}

/** Burns `text` in at (x, y), each font pixel a `size` x `size` block; text beyond the edge is clipped. */
export function drawText(image: RgbImage, text: string, x: number, y: number, size: number, rgb: readonly [number, number, number]): void {
  [...text].forEach((ch, i) => {
    for (let gy = 0; gy < GLYPH_HEIGHT; gy++) {
      for (let gx = 0; gx < GLYPH_WIDTH; gx++) {
        if (!glyphPixel(ch, gx, gy)) continue;
        for (let dy = 0; dy < size; dy++) for (let dx = 0; dx < size; dx++) setPixel(image, x + (i * GLYPH_ADVANCE + gx) * size + dx, y + gy * size + dy, rgb);
      }
    }
  });
}

/** Width in pixels of `text` at `size`. */
export function textWidth(text: string, size: number): number {
  return text.length * GLYPH_ADVANCE * size;
}
