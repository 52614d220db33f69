/**
 * Maximal end-diastolic LV wall thickness and the AHA segment where it lies, from the label maps: the
 * key HCM criterion (15 mm or more anywhere in the LV, normal-ranges.ts).
 *
 * Method (pure, per ED slice that has LV cavity and myocardium):
 * - rays from the LV-cavity centroid every 2 degrees; along each ray (0.1-pixel steps, in mm on the
 *   image's own PixelSpacing) the wall is the first myocardium run met after the cavity; its length
 *   is the ray's thickness;
 * - a ray's AHA segment (Cerqueira et al., Circulation 2002;105:539, the 17-segment model): the level
 *   is the slice's third of the myocardium-bearing ED slices (basal = the end with the larger LV
 *   cavity, then mid, apical); the angle is measured from the septum (the direction of the RV-cavity
 *   centroid), positive towards the patient's anterior (projected from ImageOrientationPatient):
 *   basal/mid septum spans +/-60 degrees (anteroseptal above, inferoseptal below), then anterior,
 *   anterolateral, inferolateral, inferior in 60-degree sectors; apical slices have four 90-degree
 *   sectors centred on septal, anterior, lateral, inferior;
 * - a segment's thickness on a slice is the MEDIAN of its rays (one stray ray through a trabecula or
 *   the RV insertion must not make the maximum); the study's maximal wall thickness is the largest
 *   segment median over slices. A focal bump narrower than half a segment is therefore understated:
 *   said in the docs.
 * Without an RV cavity on the slice the septum cannot be placed: its rays count for the maximum but
 * carry no segment.
 */
import type { LabelMap } from '../study/types.js';
import { median } from '../util/median.js';

export interface WallThicknessResult {
  /** Maximal segmental ED wall thickness (mm, unrounded). */
  readonly maxMm: number;
  /** AHA segment number (1-16) where it lies, when the septum could be placed. */
  readonly segment?: number;
  readonly segmentName?: string;
  /** Slice index (grid order) of the maximum. */
  readonly slice: number;
}

export const AHA_SEGMENT_NAMES: Readonly<Record<number, string>> = {
  1: 'basal anterior',
  2: 'basal anteroseptal',
  3: 'basal inferoseptal',
  4: 'basal inferior',
  5: 'basal inferolateral',
  6: 'basal anterolateral',
  7: 'mid anterior',
  8: 'mid anteroseptal',
  9: 'mid inferoseptal',
  10: 'mid inferior',
  11: 'mid inferolateral',
  12: 'mid anterolateral',
  13: 'apical anterior',
  14: 'apical septal',
  15: 'apical inferior',
  16: 'apical lateral',
};

const RAY_STEP_DEGREES = 2;
const SAMPLE_STEP_PX = 0.1;

export type Level = 'basal' | 'mid' | 'apical';

/**
 * AHA segment from the level and the angle (degrees) from the septum centre, positive towards anterior.
 */
export function ahaSegment(level: Level, angleDegrees: number): number {
  const a = ((angleDegrees % 360) + 540) % 360 - 180; // (-180, 180]
  if (level === 'apical') {
    if (a >= -45 && a < 45) return 14; // septal
    if (a >= 45 && a < 135) return 13; // anterior
    if (a >= -135 && a < -45) return 15; // inferior
    return 16; // lateral
  }
  const base = level === 'basal' ? 0 : 6;
  if (a >= 0 && a < 60) return base + 2; // anteroseptal
  if (a >= 60 && a < 120) return base + 1; // anterior
  if (a >= 120) return base + 6; // anterolateral
  if (a >= -60 && a < 0) return base + 3; // inferoseptal
  if (a >= -120 && a < -60) return base + 4; // inferior
  return base + 5; // inferolateral
}

interface Centroid {
  readonly x: number;
  readonly y: number;
  readonly n: number;
}

/** Centroid (image mm: x along rows' direction, y down the columns) of a label. */
function centroid(map: LabelMap, label: number): Centroid {
  const { rows, columns, pixelSpacing } = map.image.plane;
  let sx = 0;
  let sy = 0;
  let n = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) {
      if (map.labels[r * columns + c] === label) {
        sx += c * pixelSpacing[1];
        sy += r * pixelSpacing[0];
        n++;
      }
    }
  }
  return n > 0 ? { x: sx / n, y: sy / n, n } : { x: 0, y: 0, n: 0 };
}

/** Thickness (mm) along one ray from (x0, y0) in direction (dx, dy) (unit, image mm); 0 when no wall is met. */
function rayThickness(map: LabelMap, labels: { lv: number; myo: number }, x0: number, y0: number, dx: number, dy: number): number {
  const { rows, columns, pixelSpacing } = map.image.plane;
  const stepMm = SAMPLE_STEP_PX * Math.min(pixelSpacing[0], pixelSpacing[1]);
  let entered = -1;
  for (let t = 0; ; t += stepMm) {
    const c = Math.round((x0 + dx * t) / pixelSpacing[1]);
    const r = Math.round((y0 + dy * t) / pixelSpacing[0]);
    if (r < 0 || c < 0 || r >= rows || c >= columns) return entered >= 0 ? t - entered : 0;
    const value = map.labels[r * columns + c];
    if (value === labels.myo) {
      if (entered < 0) entered = t;
    } else if (entered >= 0) {
      return t - entered;
    } else if (value !== labels.lv && t > 0) {
      // Left the cavity into something other than myocardium (a gap in the wall): no wall on this ray.
      return 0;
    }
  }
}

/** The patient's anterior direction projected into the image plane (image mm axes), unit; undefined if perpendicular. */
function anteriorInPlane(map: LabelMap): { x: number; y: number } | undefined {
  const o = map.image.plane.imageOrientationPatient;
  // DICOM LPS: anterior is -Y. Row direction = o[0..2] (increasing column), column direction = o[3..5].
  const x = -o[1];
  const y = -o[4];
  const norm = Math.hypot(x, y);
  return norm > 1e-3 ? { x: x / norm, y: y / norm } : undefined;
}

/**
 * Maximal ED wall thickness over the stack. `edMaps[s]` is slice s at ED; `labels` the manifest's
 * label values. Undefined when no slice has both LV cavity and myocardium.
 */
export function maximalWallThickness(edMaps: readonly LabelMap[], labels: { lv: number; myo: number; rv: number }): WallThicknessResult | undefined {
  const bearing = edMaps.map((map, s) => ({ s, map, lv: centroid(map, labels.lv), myo: centroid(map, labels.myo) })).filter((e) => e.lv.n > 0 && e.myo.n > 0);
  if (bearing.length === 0) return undefined;
  // Base is the end of the stack with the larger LV cavity.
  const first = bearing[0]!;
  const last = bearing[bearing.length - 1]!;
  const baseFirst = first.lv.n * first.map.image.plane.pixelSpacing[0] * first.map.image.plane.pixelSpacing[1] >= last.lv.n * last.map.image.plane.pixelSpacing[0] * last.map.image.plane.pixelSpacing[1];
  const count = bearing.length;
  const levelOf = (i: number): Level => {
    const fromBase = baseFirst ? i : count - 1 - i;
    const third = (fromBase * 3) / count;
    return third < 1 ? 'basal' : third < 2 ? 'mid' : 'apical';
  };

  let best: WallThicknessResult | undefined;
  bearing.forEach((entry, i) => {
    const { map, lv } = entry;
    const rv = centroid(map, labels.rv);
    const anterior = anteriorInPlane(map);
    let septum: { x: number; y: number } | undefined;
    let towardsAnterior: { x: number; y: number } | undefined;
    if (rv.n > 0 && anterior) {
      const sx = rv.x - lv.x;
      const sy = rv.y - lv.y;
      const norm = Math.hypot(sx, sy);
      if (norm > 1e-6) {
        septum = { x: sx / norm, y: sy / norm };
        // The in-plane perpendicular to the septum that points towards anterior.
        const px = -septum.y;
        const py = septum.x;
        towardsAnterior = px * anterior.x + py * anterior.y >= 0 ? { x: px, y: py } : { x: -px, y: -py };
      }
    }
    const bySegment = new Map<number, number[]>();
    const unsegmented: number[] = [];
    for (let deg = 0; deg < 360; deg += RAY_STEP_DEGREES) {
      const rad = (deg * Math.PI) / 180;
      const dx = Math.cos(rad);
      const dy = Math.sin(rad);
      const thickness = rayThickness(map, labels, lv.x, lv.y, dx, dy);
      if (!(thickness > 0)) continue;
      if (septum && towardsAnterior) {
        const angle = (Math.atan2(dx * towardsAnterior.x + dy * towardsAnterior.y, dx * septum.x + dy * septum.y) * 180) / Math.PI;
        const segment = ahaSegment(levelOf(i), angle);
        const list = bySegment.get(segment) ?? [];
        list.push(thickness);
        bySegment.set(segment, list);
      } else {
        unsegmented.push(thickness);
      }
    }
    for (const [segment, values] of bySegment) {
      const m = median(values);
      if (!best || m > best.maxMm) best = { maxMm: m, segment, segmentName: AHA_SEGMENT_NAMES[segment]!, slice: entry.s };
    }
    if (unsegmented.length > 0) {
      // Without a septum, sextants of rays stand in for segments (same robustness, no name).
      for (let k = 0; k < 6; k++) {
        const part = unsegmented.slice(Math.floor((k * unsegmented.length) / 6), Math.floor(((k + 1) * unsegmented.length) / 6));
        if (part.length === 0) continue;
        const m = median(part);
        if (!best || m > best.maxMm) best = { maxMm: m, slice: entry.s };
      }
    }
  });
  return best;
}
