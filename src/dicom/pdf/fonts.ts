/**
 * The report's fonts: DejaVu Sans (regular and bold) from the pinned npm package `dejavu-fonts-ttf`,
 * read once and embedded (subset) in every PDF. Nothing is downloaded and no system font is used, so
 * the PDF looks the same on every machine.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

let cached: { regular: Uint8Array; bold: Uint8Array } | undefined;

export function reportFonts(): { regular: Uint8Array; bold: Uint8Array } {
  if (!cached) {
    const folder = join(dirname(createRequire(import.meta.url).resolve('dejavu-fonts-ttf/package.json')), 'ttf');
    cached = { regular: readFileSync(join(folder, 'DejaVuSans.ttf')), bold: readFileSync(join(folder, 'DejaVuSans-Bold.ttf')) };
  }
  return cached;
}
