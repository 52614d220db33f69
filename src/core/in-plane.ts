/**
 * The eight in-plane orientations of a stored image (transposed, rows flipped, columns flipped: the
 * dihedral group of the square), what each does to the pixels and to the plane's geometry, and which
 * one brings an image into the canonical short-axis display. Pure maths, shared by the reader's
 * consumers (the model runs on the canonical orientation) and the synthetic generator (`--flip`).
 *
 * Canonical short-axis display (the convention of cardiac MR viewers and of the training data): seen
 * from the apex, so the plane normal row x column points towards the base; image down is posterior;
 * hence image right is the patient's left (and superior), and the right ventricle lies to the left
 * of the left ventricle, anterior at the top.
 */
import { cross, dot, normalize, scaleAdd, type Vec3 } from './geometry.js';

/** Applied in this order to the stored image: transpose, then flip rows (top-bottom), then flip columns (left-right). */
export interface InPlaneTransform {
  readonly transpose: boolean;
  readonly flipRows: boolean;
  readonly flipColumns: boolean;
}

export const IDENTITY: InPlaneTransform = { transpose: false, flipRows: false, flipColumns: false };

/** The named transforms of `pulse synth --flip` (rot90: 90° clockwise as displayed). */
export const NAMED_TRANSFORMS = {
  rows: { transpose: false, flipRows: true, flipColumns: false },
  columns: { transpose: false, flipRows: false, flipColumns: true },
  rot180: { transpose: false, flipRows: true, flipColumns: true },
  transpose: { transpose: true, flipRows: false, flipColumns: false },
  rot90: { transpose: true, flipRows: false, flipColumns: true },
  rot270: { transpose: true, flipRows: true, flipColumns: false },
  antitranspose: { transpose: true, flipRows: true, flipColumns: true },
} as const satisfies Record<string, InPlaneTransform>;
export type NamedTransform = keyof typeof NAMED_TRANSFORMS;

const ALL: readonly InPlaneTransform[] = [IDENTITY, ...Object.values(NAMED_TRANSFORMS)];

export const isIdentity = (t: InPlaneTransform): boolean => !t.transpose && !t.flipRows && !t.flipColumns;

/** Geometry of a plane as the transform needs it (ImagePlane's fields). */
export interface PlaneGeometry {
  readonly rows: number;
  readonly columns: number;
  /** [between rows, between columns] (mm), DICOM order. */
  readonly pixelSpacing: readonly [number, number];
  readonly imagePositionPatient: Vec3;
  readonly imageOrientationPatient: readonly [number, number, number, number, number, number];
}

/** Rows and columns of the transformed image. */
export function transformedSize(rows: number, columns: number, t: InPlaneTransform): { rows: number; columns: number } {
  return t.transpose ? { rows: columns, columns: rows } : { rows, columns };
}

/**
 * For each pixel of the transformed image (row-major), the index of the stored pixel it shows.
 * The same table maps a label map on the transformed image back onto the stored one.
 */
export function sourceIndex(rows: number, columns: number, t: InPlaneTransform): Int32Array {
  const out = transformedSize(rows, columns, t);
  const index = new Int32Array(out.rows * out.columns);
  for (let r = 0; r < out.rows; r++) {
    const r0 = t.flipRows ? out.rows - 1 - r : r;
    for (let c = 0; c < out.columns; c++) {
      const c0 = t.flipColumns ? out.columns - 1 - c : c;
      index[r * out.columns + c] = t.transpose ? c0 * columns + r0 : r0 * columns + c0;
    }
  }
  return index;
}

/** The stored image's pixels in the transformed orientation. */
export function transformPixels<A extends Float32Array | Uint8Array | Int8Array | Uint16Array | Int16Array>(pixels: A, rows: number, columns: number, t: InPlaneTransform): A {
  if (isIdentity(t)) return pixels.slice() as A;
  const index = sourceIndex(rows, columns, t);
  const out = new (pixels.constructor as new (n: number) => A)(index.length);
  for (let i = 0; i < index.length; i++) out[i] = pixels[index[i]!]!;
  return out;
}

/** A map on the transformed image (e.g. labels) back onto the stored image's grid. */
export function untransformPixels<A extends Float32Array | Uint8Array>(transformed: A, rows: number, columns: number, t: InPlaneTransform): A {
  if (isIdentity(t)) return transformed;
  const index = sourceIndex(rows, columns, t);
  const out = new (transformed.constructor as new (n: number) => A)(rows * columns);
  for (let i = 0; i < index.length; i++) out[index[i]!] = transformed[i]!;
  return out;
}

/** The transformed image's axes (row direction, column direction) and spacings, from the stored ones. */
function axes(plane: Pick<PlaneGeometry, 'pixelSpacing' | 'imageOrientationPatient'>, t: InPlaneTransform): { row: Vec3; column: Vec3; rowSpacing: number; columnSpacing: number } {
  const iop = plane.imageOrientationPatient;
  const row: Vec3 = [iop[0], iop[1], iop[2]];
  const column: Vec3 = [iop[3], iop[4], iop[5]];
  const sign = (v: Vec3, flip: boolean): Vec3 => (flip ? [-v[0], -v[1], -v[2]] : v);
  const [dr, dc] = plane.pixelSpacing;
  return t.transpose
    ? { row: sign(column, t.flipColumns), column: sign(row, t.flipRows), rowSpacing: dc, columnSpacing: dr }
    : { row: sign(row, t.flipColumns), column: sign(column, t.flipRows), rowSpacing: dr, columnSpacing: dc };
}

/** The same physical plane described for the transformed image: size, spacing, position of its first pixel, orientation. */
export function transformPlane<P extends PlaneGeometry>(plane: P, t: InPlaneTransform): P {
  if (isIdentity(t)) return plane;
  const { row, column, rowSpacing, columnSpacing } = axes(plane, t);
  const first = sourceIndex(plane.rows, plane.columns, t)[0]!;
  const r = Math.floor(first / plane.columns);
  const c = first - r * plane.columns;
  const iop = plane.imageOrientationPatient;
  const position = scaleAdd(scaleAdd(plane.imagePositionPatient, [iop[0], iop[1], iop[2]], c * plane.pixelSpacing[1]), [iop[3], iop[4], iop[5]], r * plane.pixelSpacing[0]);
  return {
    ...plane,
    ...transformedSize(plane.rows, plane.columns, t),
    pixelSpacing: [rowSpacing, columnSpacing],
    imagePositionPatient: position,
    imageOrientationPatient: [...row, ...column] as unknown as P['imageOrientationPatient'],
  };
}

/** Base-to-apex direction of a human heart in LPS (left, anterior, inferior), for telling the two sides of a plane apart. */
const APEX_DIRECTION: Vec3 = normalize([1, -1, -1]);
const POSTERIOR: Vec3 = [0, 1, 0];

/** The canonical display's row and column directions for a plane with this orientation; undefined for a coronal plane (no posterior in it). */
export function canonicalAxes(iop: PlaneGeometry['imageOrientationPatient']): { row: Vec3; column: Vec3 } | undefined {
  const normal = normalize(cross([iop[0], iop[1], iop[2]], [iop[3], iop[4], iop[5]]));
  const towardsBase: Vec3 = dot(normal, APEX_DIRECTION) < 0 ? normal : [-normal[0], -normal[1], -normal[2]];
  const inPlanePosterior = scaleAdd(POSTERIOR, normal, -dot(POSTERIOR, normal));
  if (Math.hypot(...inPlanePosterior) < 0.2) return undefined;
  const column = normalize(inPlanePosterior);
  return { row: cross(column, towardsBase), column };
}

/**
 * The transform that brings an image with this orientation closest to the canonical short-axis
 * display (its axes within 45° of the canonical ones). Identity when the plane has no posterior
 * direction to go by (coronal).
 */
export function canonicalTransform(plane: Pick<PlaneGeometry, 'pixelSpacing' | 'imageOrientationPatient'>): InPlaneTransform {
  const reference = canonicalAxes(plane.imageOrientationPatient);
  if (!reference) return IDENTITY;
  let best = IDENTITY;
  let bestScore = -Infinity;
  for (const t of ALL) {
    const { row, column } = axes(plane, t);
    const score = dot(row, reference.row) + dot(column, reference.column);
    // Strictly better only: the identity wins ties.
    if (score > bestScore + 1e-9) {
      best = t;
      bestScore = score;
    }
  }
  return best;
}

/** The transform that undoes `t` (transpose-then-flip composed backwards). */
export function inverseTransform(t: InPlaneTransform): InPlaneTransform {
  // Flips commute with each other; transpose swaps which axis a flip acts on.
  return t.transpose ? { transpose: true, flipRows: t.flipColumns, flipColumns: t.flipRows } : t;
}
