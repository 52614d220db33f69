/**
 * Segmented areas per slice and phase, counted on each image's own grid (docs/study-features.md:
 * A_k(s,t) = pixel count x row spacing x column spacing, mm²).
 */
import type { CineGrid, LabelMap } from '../study/types.js';

/** areasMm2[key][slice][phase]. */
export type AreaTable = Readonly<Record<string, ReadonlyArray<ReadonlyArray<number>>>>;

/** Checks that the label maps cover the grid, slice by phase, each matching its image's size. */
export function checkLabelMaps(grid: CineGrid, labelMaps: ReadonlyArray<ReadonlyArray<LabelMap>>): void {
  if (labelMaps.length !== grid.slices) throw new Error(`analysis: ${labelMaps.length} slices of label maps for a grid of ${grid.slices} slices`);
  if (grid.slicePositionsMm.length !== grid.slices) throw new Error(`analysis: grid has ${grid.slicePositionsMm.length} slice positions for ${grid.slices} slices`);
  labelMaps.forEach((row, s) => {
    if (row.length !== grid.phases) throw new Error(`analysis: slice ${s} has ${row.length} label maps for ${grid.phases} phases`);
    row.forEach((map, t) => {
      const { rows, columns } = map.image.plane;
      if (map.labels.length !== rows * columns) {
        throw new Error(`analysis: label map at slice ${s}, phase ${t} has ${map.labels.length} values for a ${rows}x${columns} image`);
      }
    });
  });
}

/** Pixel area (mm²) of one image: PixelSpacing row x column. */
export function pixelAreaMm2(map: LabelMap): number {
  const [rowSpacing, columnSpacing] = map.image.plane.pixelSpacing;
  return rowSpacing * columnSpacing;
}

/** Index of each label value's key in `keys` (-1 for other values): one lookup per pixel. */
function keyIndexOfLabel(keys: readonly string[], labelsByKey: Readonly<Record<string, number>>): Int16Array {
  const keyOfLabel = new Int16Array(256).fill(-1);
  keys.forEach((key, i) => {
    keyOfLabel[labelsByKey[key]!] = i;
  });
  return keyOfLabel;
}

/** Pixel counts of each key's label on one map, into `counts` (by key index). */
function countLabels(labels: Uint8Array, keyOfLabel: Int16Array, counts: Float64Array): void {
  counts.fill(0);
  for (let i = 0; i < labels.length; i++) {
    const k = keyOfLabel[labels[i]!]!;
    if (k >= 0) counts[k]!++;
  }
}

/** Areas of every label value in `labelsByKey`, per slice and phase. */
export function segmentAreas(labelMaps: ReadonlyArray<ReadonlyArray<LabelMap>>, labelsByKey: Readonly<Record<string, number>>): AreaTable {
  const keys = Object.keys(labelsByKey);
  const keyOfLabel = keyIndexOfLabel(keys, labelsByKey);
  const table: Record<string, number[][]> = {};
  for (const key of keys) table[key] = labelMaps.map((row) => row.map(() => 0));
  const counts = new Float64Array(keys.length);
  labelMaps.forEach((row, s) =>
    row.forEach((map, t) => {
      countLabels(map.labels, keyOfLabel, counts);
      const area = pixelAreaMm2(map);
      keys.forEach((key, i) => {
        table[key]![s]![t] = counts[i]! * area;
      });
    }),
  );
  return table;
}

/** Areas (mm²) of every label value in `labelsByKey` on each slice at one phase, in stack order (0 where a slice has no map at it). */
export function phaseAreas(labelMaps: ReadonlyArray<ReadonlyArray<LabelMap>>, phase: number, labelsByKey: Readonly<Record<string, number>>): Record<string, number[]> {
  const keys = Object.keys(labelsByKey);
  const keyOfLabel = keyIndexOfLabel(keys, labelsByKey);
  const out: Record<string, number[]> = Object.fromEntries(keys.map((k) => [k, [] as number[]]));
  const counts = new Float64Array(keys.length);
  for (const row of labelMaps) {
    const map = row[phase];
    if (map) countLabels(map.labels, keyOfLabel, counts);
    else counts.fill(0);
    const area = map ? pixelAreaMm2(map) : 0;
    keys.forEach((key, i) => out[key]!.push(counts[i]! * area));
  }
  return out;
}
