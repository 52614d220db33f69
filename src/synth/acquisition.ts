/**
 * Acquisition geometry of a synthetic cine stack: slice planes, matrix, pixel spacing, oblique
 * short-axis orientation and the in-plane placement of the heart, in DICOM patient coordinates (LPS).
 */
import { cross, normalize, scaleAdd, type Vec3 } from '../core/geometry.js';
import type { Random } from './random.js';
import { canonicalAxes } from '../core/in-plane.js';

export interface Acquisition {
  readonly slices: number;
  readonly phases: number;
  readonly rows: number;
  readonly columns: number;
  /** [row spacing, column spacing] (mm), DICOM order. */
  readonly pixelSpacing: readonly [number, number];
  readonly sliceThicknessMm: number;
  readonly spacingBetweenSlicesMm: number;
  /** Heart-frame z (mm from the ED LV base towards the apex) of each plane, by ascending slice index. */
  readonly planesZ: readonly number[];
  /** +1 when slice index grows towards the apex, -1 when it grows towards the base. */
  readonly apexward: 1 | -1;
  /** Row direction (columns increase) and column direction (rows increase), unit vectors in LPS. */
  readonly rowCosines: Vec3;
  readonly columnCosines: Vec3;
  readonly normal: Vec3;
  /** Patient position (mm) of the image centre of slice 0. */
  readonly origin: Vec3;
  /** Image-plane offset (mm) of the heart-frame origin from the image centre (before rotation back). */
  readonly shift: readonly [number, number];
  /** In-plane rotation of the scene (rad): heart-plane axes -> image axes. */
  readonly rotation: number;
  readonly heartRateBpm: number;
  readonly rrMs: number;
  readonly triggerTimesMs: readonly number[];
}


/** Cosines rounded to 6 decimals (what DICOM DS holds), then re-orthonormalised exactly enough for readers. */
function roundVec(v: Vec3): Vec3 {
  return [Number(v[0].toFixed(6)), Number(v[1].toFixed(6)), Number(v[2].toFixed(6))];
}

/**
 * A short-axis orientation: the stack normal lies roughly along the base-apex line (left, anterior,
 * inferior in LPS: +x, -y, -z) with a per-subject jitter. The image axes are those of the canonical
 * short-axis display (src/core/in-plane.ts: seen from the apex, posterior down, the patient's left
 * on the right), which is how the scene is drawn (right ventricle to the left, anterior up, rotated
 * in plane by at most 0.45 rad): the orientation agrees with the anatomy, so `--flip` can be undone
 * from ImageOrientationPatient alone. Never axis-aligned: every cosine is kept below 0.97 in magnitude.
 */
function drawOrientation(rng: Random): { row: Vec3; col: Vec3; normal: Vec3 } {
  for (;;) {
    const n = normalize([0.62 + rng.gaussian(0, 0.12), -0.55 + rng.gaussian(0, 0.12), -0.55 + rng.gaussian(0, 0.12)]);
    // Drawn and checked as before (the same draws, so every seed keeps its study); only the axes below
    // are derived from the normal instead of this in-plane angle.
    const helper: Vec3 = [0, 0, 1];
    const e1 = normalize(cross(helper, n));
    const e2 = cross(n, e1);
    const psi = rng.uniform(-0.6, 0.6) + Math.PI / 2;
    const drawnRow = roundVec(normalize(scaleAdd([e1[0] * Math.cos(psi), e1[1] * Math.cos(psi), e1[2] * Math.cos(psi)], e2, Math.sin(psi))));
    const drawnCol = roundVec(normalize(cross(n, drawnRow)));
    if (![...drawnRow, ...drawnCol].every((c) => Math.abs(c) < 0.97)) continue;
    // e1, e2 span the plane of normal n: the display axes of that plane.
    const display = canonicalAxes([e1[0], e1[1], e1[2], e2[0], e2[1], e2[2]])!;
    const row = roundVec(display.row);
    // Column cosines exactly orthogonal to the rounded row cosines, then rounded.
    const colOrth = normalize(scaleAdd(display.column, row, -(display.column[0] * row[0] + display.column[1] * row[1] + display.column[2] * row[2])));
    const col = roundVec(colOrth);
    return { row, col, normal: normalize(cross(row, col)) };
  }
}

export interface AcquisitionRequest {
  readonly slices?: number;
  readonly phases?: number;
  /** Heart-frame extent to cover along z: from the ED base (0) to the epicardial apex (mm). */
  readonly heartLengthMm: number;
  readonly heartRateBpm: number;
  /** Slice thickness and gap (mm) instead of the drawn ones (the draws still happen: a seed keeps the rest of its study). */
  readonly sliceThicknessMm?: number;
  readonly sliceGapMm?: number;
}

export function drawAcquisition(rng: Random, req: AcquisitionRequest): Omit<Acquisition, 'shift' | 'rows' | 'columns' | 'pixelSpacing'> & { fovMm: number; aspect: number; pixelMm: number; anisotropy: number } {
  let thickness = rng.pick([5, 6, 6.5, 7, 8, 8, 10, 10]);
  let gap = rng.pick([0, 0, 0, 1, 1.5, 2, 2.5, 3, 4]);
  // Cover from a little above the base to around the apex.
  const start = rng.uniform(-4, 6);
  const end = req.heartLengthMm + rng.uniform(-6, 4);
  const coverage = end - start;
  let slices: number;
  let spacing: number;
  if (req.sliceThicknessMm !== undefined) {
    // Given thickness and gap: the spacing is theirs, the slice count follows from the coverage.
    thickness = req.sliceThicknessMm;
    gap = req.sliceGapMm ?? 0;
    spacing = Math.round((thickness + gap) * 100) / 100;
    slices = req.slices ?? Math.max(3, Math.round(coverage / spacing) + 1);
  } else {
    slices = req.slices ?? Math.min(12, Math.max(8, Math.round(coverage / (thickness + gap)) + 1));
    spacing = Math.round((coverage / Math.max(1, slices - 1)) * 100) / 100;
    if (spacing < thickness) {
      thickness = spacing;
      gap = 0;
    } else {
      gap = Math.round((spacing - thickness) * 100) / 100;
    }
  }
  const phases = req.phases ?? rng.int(20, 30);
  const apexward = rng.chance(0.5) ? 1 : -1;
  const planesBaseToApex = Array.from({ length: slices }, (_, i) => start + i * spacing);
  const planesZ = apexward === 1 ? planesBaseToApex : [...planesBaseToApex].reverse();
  const { row, col, normal } = drawOrientation(rng);
  const rrMs = 60000 / req.heartRateBpm;
  const triggerTimesMs = Array.from({ length: phases }, (_, i) => Math.round(((i * rrMs) / phases) * 10) / 10);
  const fovMm = rng.uniform(300, 380);
  const aspect = rng.pick([0.75, 0.8, 0.8125, 0.84375, 0.875, 0.9, 1]);
  const pixelMm = rng.uniform(1.35, 2.0);
  const anisotropy = rng.chance(0.2) ? rng.uniform(0.9, 1.1) : 1;
  const origin: Vec3 = [rng.uniform(-30, 30), rng.uniform(-40, 20), rng.uniform(-80, 80)];
  return {
    slices,
    phases,
    sliceThicknessMm: thickness,
    spacingBetweenSlicesMm: spacing,
    planesZ,
    apexward,
    rowCosines: row,
    columnCosines: col,
    normal,
    origin,
    rotation: rng.uniform(-0.45, 0.45),
    heartRateBpm: req.heartRateBpm,
    rrMs,
    triggerTimesMs,
    fovMm,
    aspect,
    pixelMm,
    anisotropy,
  };
}

/** Matrix and pixel spacing from the drawn field of view (columns along the longer side). */
export function drawMatrix(fovMm: number, aspect: number, pixelMm: number, anisotropy: number): { rows: number; columns: number; pixelSpacing: [number, number] } {
  const colSpacing = Math.round(pixelMm * 10000) / 10000;
  const rowSpacing = Math.round(pixelMm * anisotropy * 10000) / 10000;
  const columns = 2 * Math.round(fovMm / colSpacing / 2);
  const rows = 2 * Math.round((fovMm * aspect) / rowSpacing / 2);
  return { rows, columns, pixelSpacing: [rowSpacing, colSpacing] };
}

/** Patient position of the top-left pixel centre of slice `index`. */
export function imagePositionPatient(acq: Acquisition, index: number): Vec3 {
  const [dr, dc] = acq.pixelSpacing;
  const along = index * acq.spacingBetweenSlicesMm;
  const centre = scaleAdd(acq.origin, acq.normal, along);
  const halfW = ((acq.columns - 1) / 2) * dc;
  const halfH = ((acq.rows - 1) / 2) * dr;
  return scaleAdd(scaleAdd(centre, acq.rowCosines, -halfW), acq.columnCosines, -halfH);
}
