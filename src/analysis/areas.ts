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

/** Areas of every label value in `labelsByKey`, per slice and phase. */
export function segmentAreas(labelMaps: ReadonlyArray<ReadonlyArray<LabelMap>>, labelsByKey: Readonly<Record<string, number>>): AreaTable {
  const keys = Object.keys(labelsByKey);
  const keyOfLabel = new Int16Array(256).fill(-1);
  keys.forEach((key, i) => {
    keyOfLabel[labelsByKey[key]!] = i;
  });
  const table: Record<string, number[][]> = {};
  for (const key of keys) table[key] = labelMaps.map((row) => row.map(() => 0));
  const counts = new Float64Array(keys.length);
  labelMaps.forEach((row, s) =>
    row.forEach((map, t) => {
      counts.fill(0);
      const labels = map.labels;
      for (let i = 0; i < labels.length; i++) {
        const k = keyOfLabel[labels[i]!]!;
        if (k >= 0) counts[k]!++;
      }
      const area = pixelAreaMm2(map);
      keys.forEach((key, i) => {
        table[key]![s]![t] = counts[i]! * area;
      });
    }),
  );
  return table;
}
