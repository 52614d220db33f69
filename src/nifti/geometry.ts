/**
 * NIfTI voxel grid -> DICOM image planes (pure). NIfTI world coordinates are RAS+ (+x towards the
 * patient's right, +y anterior, +z superior); DICOM's are LPS+ (+x left, +y posterior, +z superior):
 * converting negates x and y.
 *
 * Mapping of axes: NIfTI i (the fastest-varying index in memory) becomes the DICOM column index and
 * j the row index, so slice k's voxels are already DICOM's row-major pixel order (Columns = nx,
 * Rows = ny). Then, with A the LPS affine:
 *   ImageOrientationPatient = [A[:,0]/|A[:,0]|, A[:,1]/|A[:,1]|]   (row direction, column direction)
 *   PixelSpacing            = [|A[:,1]|, |A[:,0]|]                 (between rows, between columns)
 *   ImagePositionPatient(k) = A * [0, 0, k, 1]
 * so the world position of voxel (i, j, k) is IPP(k) + i * rowDir * PixelSpacing[1] + j * colDir * PixelSpacing[0].
 */
import { dot as dotProduct, norm, type Vec3 } from '../core/geometry.js';
import { BadInputError } from '../core/errors.js';
import type { Affine } from './read-nifti.js';

export interface SliceGeometry {
  readonly rows: number;
  readonly columns: number;
  /** [between rows, between columns] (mm), DICOM order. */
  readonly pixelSpacing: readonly [number, number];
  readonly imageOrientationPatient: readonly [number, number, number, number, number, number];
  /** ImagePositionPatient of each slice k (LPS, mm). */
  readonly imagePositions: readonly Vec3[];
  /** Distance between adjacent slice centres along the k axis (mm). */
  readonly spacingBetweenSlices: number;
}

/** The RAS -> LPS conversion of a voxel-to-world affine. */
export function toLps(affine: Affine): Affine {
  const [r0, r1, r2, r3] = affine;
  return [r0.map((v) => -v) as unknown as Affine[0], r1.map((v) => -v) as unknown as Affine[1], r2, r3];
}

/** World (LPS, mm) position of voxel (i, j, k) from an LPS affine. */
export function voxelToLps(lps: Affine, i: number, j: number, k: number): Vec3 {
  const p = (r: number): number => lps[r]![0] * i + lps[r]![1] * j + lps[r]![2] * k + lps[r]![3];
  return [p(0), p(1), p(2)];
}

/** DICOM plane geometry of every slice of an nx x ny x nz grid with voxel-to-RAS affine `affine`. */
export function sliceGeometry(affine: Affine, dims: readonly [number, number, number, ...number[]]): SliceGeometry {
  const lps = toLps(affine);
  const column = (c: 0 | 1 | 2): Vec3 => [lps[0][c], lps[1][c], lps[2][c]];
  const a0 = column(0);
  const a1 = column(1);
  const a2 = column(2);
  // NIfTI stores float32: spacings carry ~7 significant digits, so 0.9 reads as 0.89999997615814.
  const s0 = float32Digits(norm(a0));
  const s1 = float32Digits(norm(a1));
  if (!(s0 > 0) || !(s1 > 0)) throw new BadInputError('NIfTI affine has a zero in-plane axis');
  const rowDir = a0.map((v) => v / s0) as unknown as Vec3;
  const colDir = a1.map((v) => v / s1) as unknown as Vec3;
  const dot = dotProduct(rowDir, colDir);
  // DICOM requires orthogonal row and column directions; a sheared affine cannot be written as planes.
  if (Math.abs(dot) > 1e-3) throw new BadInputError(`NIfTI affine in-plane axes are not orthogonal (cosine ${dot.toFixed(4)})`);
  const nz = dims[2];
  const imagePositions: Vec3[] = [];
  for (let k = 0; k < nz; k++) imagePositions.push(voxelToLps(lps, 0, 0, k));
  return {
    rows: dims[1],
    columns: dims[0],
    pixelSpacing: [s1, s0],
    imageOrientationPatient: [...rowDir, ...colDir] as unknown as SliceGeometry['imageOrientationPatient'],
    imagePositions,
    spacingBetweenSlices: float32Digits(norm(a2)),
  };
}

/** Rounds to the 7 significant digits a float32 header value really holds. */
export function float32Digits(value: number): number {
  return Number(value.toPrecision(7));
}
