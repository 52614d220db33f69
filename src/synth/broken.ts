/**
 * Deliberately broken variants of a synthetic cine study, for measuring quality control: each
 * still reads as a valid cine stack (same files, same geometry, Orthanc accepts them), but what the
 * pixels show is not what a cardiac cine should show. None of them may pass quality control.
 */
import { readPart10, writePart10 } from '../dicom/modules/part10.js';
import type { SynthFile } from './types.js';
import { Random } from './random.js';

export const BROKEN_KINDS = ['garbage-tail', 'scrambled-slices', 'non-cardiac', 'noise'] as const;
export type BrokenKind = (typeof BROKEN_KINDS)[number];

type Dataset = Record<string, any>;

function pixelsOf(ds: Dataset): Uint16Array | Int16Array {
  const buffer = (ds.PixelData as ArrayBuffer[])[0]!;
  return ds.PixelRepresentation === 1 ? new Int16Array(buffer) : new Uint16Array(buffer);
}

function maxOf(values: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) if (values[i]! > m) m = values[i]!;
  return m;
}

/**
 * Rewrites the study's files into the broken variant `kind` (deterministic in `seed`):
 * - garbage-tail: half the files (every other one) hold random bytes in the last third of their pixel data;
 * - scrambled-slices: the slice positions are permuted, so the anatomy along the stack is out of order;
 * - non-cardiac: every image replaced by a smooth texture of blobs with no heart in it;
 * - noise: every image replaced by uniform noise over the original range.
 */
export function breakStudy(files: readonly SynthFile[], kind: BrokenKind, seed: number): SynthFile[] {
  const random = Random.from('broken', kind, seed);
  const datasets = files.map((f) => readPart10(f.bytes));
  if (kind === 'scrambled-slices') {
    const positions = [...new Set(datasets.map((ds) => JSON.stringify(ds.ImagePositionPatient)))];
    const shuffled = [...positions];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = Math.floor(random.next() * (i + 1));
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    // A derangement-ish permutation: make sure at least the order changed.
    if (shuffled.every((p, i) => p === positions[i]) && shuffled.length > 1) shuffled.reverse();
    const map = new Map(positions.map((p, i) => [p, shuffled[i]!]));
    for (const ds of datasets) ds.ImagePositionPatient = JSON.parse(map.get(JSON.stringify(ds.ImagePositionPatient))!);
  } else {
    const blobs = Array.from({ length: 12 }, () => ({ r: random.next(), c: random.next(), radius: 0.05 + 0.15 * random.next(), level: random.next() }));
    datasets.forEach((ds, k) => {
      const pixels = pixelsOf(ds);
      const max = Math.max(1, maxOf(pixels));
      const rows = ds.Rows as number;
      const columns = ds.Columns as number;
      if (kind === 'garbage-tail') {
        if (k % 2 === 0) return;
        for (let i = Math.floor((pixels.length * 2) / 3); i < pixels.length; i++) pixels[i] = Math.floor(random.next() * 65536) & (ds.PixelRepresentation === 1 ? 0x7fff : 0xffff);
      } else if (kind === 'noise') {
        for (let i = 0; i < pixels.length; i++) pixels[i] = Math.floor(random.next() * max);
      } else {
        // non-cardiac: smooth blobs that drift a little with the phase, no ventricles.
        const drift = (k % 7) * 0.004;
        for (let r = 0; r < rows; r++) {
          for (let c = 0; c < columns; c++) {
            let v = 0.15 * (r / rows);
            for (const b of blobs) {
              const d = Math.hypot(r / rows - b.r - drift, c / columns - b.c);
              v += b.level * Math.exp(-((d / b.radius) ** 2));
            }
            pixels[r * columns + c] = Math.min(max, Math.floor((v / 2) * max));
          }
        }
      }
    });
  }
  return files.map((f, i) => ({ name: f.name, bytes: writePart10(datasets[i]!) }));
}
