/**
 * Frame headers of one series -> the slice x phase plan of a cine stack, or the reason there is none.
 * Slices are ordered by position along the stack normal (never InstanceNumber, SliceLocation or file
 * name); phases by temporal position index, else trigger time (clustered, per slice), else
 * InstanceNumber within the slice.
 */
import type { FrameRecord } from './frames.js';
import { angleDeg, angleToNearestAxisDeg, dot, normalize, planeNormal } from '../core/geometry.js';
import type { SeriesSelectionRules } from './series-rules.js';
import type { ImagePlane, Vec3 } from './types.js';

export interface GridPlan {
  /** frames[slice][phase] */
  readonly frames: ReadonlyArray<ReadonlyArray<FrameRecord & { readonly plane: ImagePlane }>>;
  readonly sliceNormal: Vec3;
  readonly slicePositionsMm: readonly number[];
  readonly phaseTimesMs: readonly number[];
  /** How phases were told apart, for the decision log. */
  readonly phaseKey: 'TemporalPositionIndex' | 'TriggerTime' | 'InstanceNumber';
}

export type PlanResult =
  | { readonly ok: true; readonly plan: GridPlan }
  | { readonly ok: false; readonly reason: string; readonly singleSlice?: true };

const fail = (reason: string): PlanResult => ({ ok: false, reason });
const fmt = (x: number): string => (Math.round(x * 100) / 100).toString();

/** Groups sorted values into runs whose neighbours differ by at most `tolerance`. */
function clusterSorted<T>(items: readonly T[], value: (t: T) => number, tolerance: number): T[][] {
  const sorted = [...items].sort((a, b) => value(a) - value(b));
  const groups: T[][] = [];
  for (const it of sorted) {
    const last = groups[groups.length - 1];
    if (last && value(it) - value(last[last.length - 1]!) <= tolerance) last.push(it);
    else groups.push([it]);
  }
  return groups;
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

type Placed = FrameRecord & { readonly plane: ImagePlane };

/** Orders one slice's frames into phases; returns the reason when they cannot be told apart. */
function orderPhases(frames: readonly Placed[], key: GridPlan['phaseKey'], toleranceMs: number): Placed[] | string {
  if (key === 'TemporalPositionIndex') {
    const groups = clusterSorted(frames, (f) => f.temporalPositionIndex!, 0);
    const dup = groups.find((g) => g.length > 1);
    if (dup) return `${dup.length} images share TemporalPositionIndex ${dup[0]!.temporalPositionIndex}`;
    return groups.map((g) => g[0]!);
  }
  if (key === 'TriggerTime') {
    const groups = clusterSorted(frames, (f) => f.triggerTimeMs!, toleranceMs);
    const dup = groups.find((g) => g.length > 1);
    if (dup) return `${dup.length} images have TriggerTime within ${toleranceMs} ms of ${fmt(dup[0]!.triggerTimeMs!)} ms`;
    return groups.map((g) => g[0]!);
  }
  const groups = clusterSorted(frames, (f) => f.instanceNumber!, 0);
  const dup = groups.find((g) => g.length > 1);
  if (dup) return `${dup.length} images without trigger times share InstanceNumber ${dup[0]!.instanceNumber}`;
  return groups.map((g) => g[0]!);
}

/** Plans the cine grid of one series' frames under `rules`. */
export function planGrid(frames: readonly FrameRecord[], rules: SeriesSelectionRules): PlanResult {
  if (frames.length === 0) return fail('no images');
  const missing = frames.find((f) => !f.plane);
  if (missing) return fail(`${missing.geometryProblem} (${missing.instance.source})`);
  const placed = frames as readonly Placed[];

  const first = placed[0]!.plane;
  const mismatch = placed.find((f) => f.plane.rows !== first.rows || f.plane.columns !== first.columns);
  if (mismatch) {
    return fail(`Rows/Columns differ within the stack: ${first.columns}x${first.rows} and ${mismatch.plane.columns}x${mismatch.plane.rows} (${mismatch.instance.source})`);
  }

  // Orientation: every frame's row and column directions within the tolerance of the first frame's.
  const row0: Vec3 = [first.imageOrientationPatient[0], first.imageOrientationPatient[1], first.imageOrientationPatient[2]];
  const col0: Vec3 = [first.imageOrientationPatient[3], first.imageOrientationPatient[4], first.imageOrientationPatient[5]];
  const normal0 = planeNormal(first.imageOrientationPatient);
  let sum: Vec3 = [0, 0, 0];
  for (const f of placed) {
    const iop = f.plane.imageOrientationPatient;
    const rowAngle = angleDeg(row0, [iop[0], iop[1], iop[2]]);
    const colAngle = angleDeg(col0, [iop[3], iop[4], iop[5]]);
    if (Math.max(rowAngle, colAngle) > rules.orientationToleranceDeg) {
      return fail(`ImageOrientationPatient differs by ${fmt(Math.max(rowAngle, colAngle))}° within the series (tolerance ${rules.orientationToleranceDeg}°; ${f.instance.source})`);
    }
    const n = planeNormal(iop);
    sum = [sum[0] + n[0], sum[1] + n[1], sum[2] + n[2]];
  }
  const sliceNormal = normalize(sum);
  if (rules.orientation === 'short-axis') {
    const toAxis = angleToNearestAxisDeg(normal0);
    if (toAxis < rules.maxAxisAlignmentDeg) {
      return fail(`plane is axial, coronal or sagittal (normal ${fmt(toAxis)}° from a patient axis), not short-axis`);
    }
  }

  // Slices: cluster positions along the normal.
  const along = (f: Placed): number => dot(f.plane.imagePositionPatient, sliceNormal);
  const sliceGroups = clusterSorted(placed, along, rules.slicePositionToleranceMm);
  if (sliceGroups.length < rules.minSlices) {
    if (sliceGroups.length === 1) return { ok: false, reason: 'a single slice position: not a stack', singleSlice: true };
    return fail(`${sliceGroups.length} slices, fewer than the ${rules.minSlices} required`);
  }

  const phaseKey: GridPlan['phaseKey'] = placed.every((f) => f.temporalPositionIndex !== undefined)
    ? 'TemporalPositionIndex'
    : placed.every((f) => f.triggerTimeMs !== undefined)
      ? 'TriggerTime'
      : 'InstanceNumber';
  if (phaseKey === 'InstanceNumber' && !placed.every((f) => f.instanceNumber !== undefined)) {
    return fail('images have neither TemporalPositionIndex, TriggerTime nor InstanceNumber to order phases');
  }

  const ordered: Placed[][] = [];
  for (const [s, group] of sliceGroups.entries()) {
    const phases = orderPhases(group, phaseKey, rules.triggerTimeToleranceMs);
    if (typeof phases === 'string') return fail(`slice ${s + 1} of ${sliceGroups.length} (at ${fmt(mean(group.map(along)))} mm): ${phases}`);
    ordered.push(phases);
  }
  const counts = ordered.map((p) => p.length);
  const commonCount = mostCommon(counts);
  const odd = counts.findIndex((c) => c !== commonCount);
  if (odd >= 0) {
    const list = counts.map((c, i) => (c !== commonCount ? `slice ${i + 1} has ${c}` : '')).filter(Boolean).join(', ');
    return fail(`inconsistent phases per slice: ${list}, the others ${commonCount}`);
  }
  if (commonCount < rules.minPhases) return fail(`${commonCount} phase(s), fewer than the ${rules.minPhases} required for cine`);

  const slicePositionsMm = ordered.map((phases) => mean(phases.map(along)));
  const phaseTimesMs = phaseTimes(ordered, phaseKey);
  return { ok: true, plan: { frames: ordered, sliceNormal, slicePositionsMm, phaseTimesMs, phaseKey } };
}

function mostCommon(values: readonly number[]): number {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || b[0] - a[0])[0]![0];
}

/** Mean trigger time per phase over slices; else phase index x nominal interval (R-R / phases, or 40 ms). */
function phaseTimes(ordered: readonly (readonly Placed[])[], key: GridPlan['phaseKey']): number[] {
  const phases = ordered[0]!.length;
  const times: number[] = [];
  for (let p = 0; p < phases; p++) {
    const ts = ordered.map((slice) => slice[p]!.triggerTimeMs).filter((t): t is number => t !== undefined);
    times.push(ts.length === ordered.length ? mean(ts) : NaN);
  }
  if (times.every(Number.isFinite) && key !== 'InstanceNumber') return times;
  if (times.every(Number.isFinite)) return times;
  const ds = ordered[0]![0]!.instance.dataset;
  const rr = Number(ds['NominalInterval']) > 0 ? Number(ds['NominalInterval']) : Number(ds['HeartRate']) > 0 ? 60000 / Number(ds['HeartRate']) : NaN;
  const interval = Number.isFinite(rr) ? rr / phases : 40;
  return times.map((_, p) => p * interval);
}
