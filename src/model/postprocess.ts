/**
 * Post-processing: model logits -> label maps on each source image's exact grid.
 *
 * Logits are interpolated (bilinear) from the model grid onto every source pixel, then the argmax
 * picks the class: this keeps sub-pixel boundaries that an argmax-then-nearest-neighbour would snap to
 * the model grid. Channel 0 is background; channel k (k >= 1) is the manifest's segment k - 1, written
 * as its labelValue. Pixels outside the model window are background. Clean-up (components.ts)
 * runs afterwards on the source grid, per phase.
 */
import type { GridMapping } from './resample.js';

let argmaxScratch = new Uint8Array(0);

/**
 * The arg-max channel of every model-grid pixel of one image's logits ([K, planeSize] at `offset`),
 * into `out`; ties go to the lower channel. Computed once per image and shared by the label maps and
 * the confidence (confidence.ts), which would otherwise each read all K planes again.
 */
export function argmaxPlane(logits: Float32Array, offset: number, classes: number, planeSize: number, out: Uint8Array): Uint8Array {
  for (let i = 0; i < planeSize; i++) {
    let best = 0;
    let bestValue = logits[offset + i]!;
    for (let k = 1, p = offset + planeSize + i; k < classes; k++, p += planeSize) {
      const v = logits[p]!;
      if (v > bestValue) {
        bestValue = v;
        best = k;
      }
    }
    out[i] = best;
  }
  return out;
}

/**
 * Fills `out` (source rows x columns) from one image's logits ([K, H, W] at `offset` in `logits`).
 * `labelValues[k]` is the label written for channel k (labelValues[0] = 0). `argmax`, when given, is
 * the image's argmaxPlane (computed here otherwise).
 *
 * Shortcut, exact: a bilinear sample is a convex combination of its four model-grid neighbours, so
 * when all four have the same argmax k, k is also the argmax of the sample (up to ties). Only pixels
 * near a boundary need the full interpolation of every channel.
 */
export function labelsFromLogits(
  logits: Float32Array,
  offset: number,
  classes: number,
  mapping: GridMapping,
  labelValues: Uint8Array,
  out: Uint8Array,
  argmaxOfImage?: Uint8Array,
): void {
  const { toSourceRows: rowsT, toSourceColumns: colsT, modelRows, modelColumns, sourceColumns } = mapping;
  const planeSize = modelRows * modelColumns;
  let argmax = argmaxOfImage;
  if (argmax === undefined) {
    if (argmaxScratch.length < planeSize) argmaxScratch = new Uint8Array(planeSize);
    argmax = argmaxPlane(logits, offset, classes, planeSize, argmaxScratch);
  }
  out.fill(0);
  const ci = colsT.index;
  const cw = colsT.weight;
  for (let r = rowsT.first; r <= rowsT.last; r++) {
    const i = rowsT.index[r]!;
    if (i < 0) continue;
    const wr = rowsT.weight[r]!;
    const m0 = i * modelColumns;
    const m1 = wr > 0 ? m0 + modelColumns : m0;
    const outBase = r * sourceColumns;
    for (let c = colsT.first; c <= colsT.last; c++) {
      const j = ci[c]!;
      if (j < 0) continue;
      const wc = cw[c]!;
      const j1 = wc > 0 ? j + 1 : j;
      const a0 = argmax[m0 + j]!;
      if (a0 === argmax[m0 + j1] && a0 === argmax[m1 + j] && a0 === argmax[m1 + j1]) {
        out[outBase + c] = labelValues[a0]!;
        continue;
      }
      let best = 0;
      let bestValue = -Infinity;
      for (let k = 0, p = offset; k < classes; k++, p += planeSize) {
        const a = logits[p + m0 + j]!;
        const b = logits[p + m0 + j1]!;
        const d = logits[p + m1 + j]!;
        const e = logits[p + m1 + j1]!;
        const top = a + wc * (b - a);
        const bottom = d + wc * (e - d);
        const v = top + wr * (bottom - top);
        if (v > bestValue) {
          bestValue = v;
          best = k;
        }
      }
      out[outBase + c] = labelValues[best]!;
    }
  }
}
