/**
 * A cine grid in the canonical short-axis display (src/core/in-plane.ts), and the way back: the model
 * sees every image as it was trained to (right ventricle left, anterior up), whatever patient position
 * or phase-encoding direction the scanner stored it in; its label maps return to each source image's
 * own grid for the SEG, the measurements and the views. Pure: a grid in, a grid and a mapping out.
 */
import { angleToNearestAxisDeg } from '../core/geometry.js';
import { canonicalTransform, IDENTITY, isIdentity, transformPixels, transformPlane, untransformPixels, type InPlaneTransform } from '../core/in-plane.js';
import type { CineGrid, LabelMap, SourceImage } from './types.js';

/** Stacks whose normal lies this close to a patient axis are left as stored (NIfTI conversions: their orientation is not the scanner's). */
const AXIS_ALIGNED_DEG = 10;

export interface CanonicalGrid {
  /** The grid the model runs on: the source grid itself when no transform is needed. */
  readonly grid: CineGrid;
  /** What was done to every image (one transform for the stack: its planes share an orientation). */
  readonly transform: InPlaneTransform;
  /** Label maps on `grid`'s images -> the same maps on the source images' own grids. */
  toSource(labelMaps: ReadonlyArray<ReadonlyArray<LabelMap>>): LabelMap[][];
}

/** The stack's images in the canonical display, decided from the first image's ImageOrientationPatient. */
export function canonicalGrid(grid: CineGrid): CanonicalGrid {
  const first = grid.images[0]?.[0];
  const transform = first && angleToNearestAxisDeg(grid.sliceNormal) >= AXIS_ALIGNED_DEG ? canonicalTransform(first.plane) : IDENTITY;
  if (isIdentity(transform)) {
    return { grid, transform, toSource: (maps) => maps.map((row) => [...row]) };
  }
  const images = grid.images.map((row) =>
    row.map((image): SourceImage => ({
      ...image,
      plane: transformPlane(image.plane, transform),
      pixels: transformPixels(image.pixels, image.plane.rows, image.plane.columns, transform),
    })),
  );
  return {
    grid: { ...grid, images },
    transform,
    toSource: (maps) =>
      maps.map((row, s) =>
        row.map((map, p) => {
          const source = grid.images[s]![p]!;
          return { image: source, labels: untransformPixels(map.labels, source.plane.rows, source.plane.columns, transform) };
        }),
      ),
  };
}
