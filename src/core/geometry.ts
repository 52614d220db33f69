/**
 * The one module of 3-D vector and plane maths in patient coordinates (mm): the study reader, the
 * SEG writer, the synthetic generator and the NIfTI import all use these, so that a normal or a
 * slice spacing is computed the same way everywhere.
 */

/** A point or direction in DICOM patient coordinates (LPS, mm). */
export type Vec3 = readonly [number, number, number];

export const dot = (a: Vec3, b: Vec3): number => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];

export const cross = (a: Vec3, b: Vec3): Vec3 => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];

export const norm = (a: Vec3): number => Math.hypot(a[0], a[1], a[2]);

/** `a` scaled to unit length (a zero vector stays zero). */
export function normalize(a: Vec3): Vec3 {
  const n = norm(a);
  return n === 0 ? a : [a[0] / n, a[1] / n, a[2] / n];
}

/** a + s * b */
export function scaleAdd(a: Vec3, b: Vec3, s: number): Vec3 {
  return [a[0] + s * b[0], a[1] + s * b[1], a[2] + s * b[2]];
}

/** Row cosines x column cosines of ImageOrientationPatient, not normalised (unit for orthonormal cosines). */
export function orientationCross(iop: readonly [number, number, number, number, number, number]): Vec3 {
  return cross([iop[0], iop[1], iop[2]], [iop[3], iop[4], iop[5]]);
}

/** Unit normal of a plane from ImageOrientationPatient (row cosines x column cosines). */
export function planeNormal(iop: readonly [number, number, number, number, number, number]): Vec3 {
  return normalize(orientationCross(iop));
}

/** Angle in degrees between two unit vectors. */
export function angleDeg(a: Vec3, b: Vec3): number {
  return (Math.acos(Math.max(-1, Math.min(1, dot(a, b)))) * 180) / Math.PI;
}

/** Angle in degrees between the normal and the nearest patient axis (0 = axial, coronal or sagittal). */
export function angleToNearestAxisDeg(normal: Vec3): number {
  const largest = Math.max(Math.abs(normal[0]), Math.abs(normal[1]), Math.abs(normal[2]));
  return (Math.acos(Math.min(1, largest)) * 180) / Math.PI;
}
