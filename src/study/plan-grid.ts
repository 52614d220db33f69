/**
 * Frame headers of one series -> the slice x phase plan of a cine stack, or the reason there is none.
 * Slices are ordered by position along the stack normal (never InstanceNumber, SliceLocation or file
 * name); phases by temporal position index, else trigger time (clustered, per slice), else
 * InstanceNumber within the slice, else acquisition time. A key that every frame carries but that is
 * constant within each slice (scanners that write TriggerTime 0 on every image) says nothing about the
 * phase and is passed over, with a note for the log.
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
  readonly phaseKey: PhaseKey;
  /** Why an earlier key was passed over (e.g. 'TriggerTime is constant within each slice'), for the log. */
  readonly phaseKeyNote?: string;
}

/** The attributes that can order the phases of one slice, most trusted first. */
export type PhaseKey = 'TemporalPositionIndex' | 'TriggerTime' | 'InstanceNumber' | 'AcquisitionTime';

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

const PHASE_KEYS: readonly PhaseKey[] = ['TemporalPositionIndex', 'TriggerTime', 'InstanceNumber', 'AcquisitionTime'];

function keyValue(frame: FrameRecord, key: PhaseKey): number | undefined {
  switch (key) {
    case 'TemporalPositionIndex':
      return frame.temporalPositionIndex;
    case 'TriggerTime':
      return frame.triggerTimeMs;
    case 'InstanceNumber':
      return frame.instanceNumber;
    case 'AcquisitionTime':
      return frame.acquisitionTimeS;
  }
}

/** How close two values of a key may be and still be the same phase. */
function keyTolerance(key: PhaseKey, triggerToleranceMs: number): number {
  return key === 'TriggerTime' ? triggerToleranceMs : key === 'AcquisitionTime' ? 0.001 : 0;
}

function keyWords(key: PhaseKey, value: number, tolerance: number): string {
  if (key === 'TriggerTime') return `have TriggerTime within ${tolerance} ms of ${fmt(value)} ms`;
  if (key === 'AcquisitionTime') return `share AcquisitionTime ${fmt(value)} s`;
  if (key === 'InstanceNumber') return `without usable trigger times share InstanceNumber ${value}`;
  return `share TemporalPositionIndex ${value}`;
}

/** Orders one slice's frames into phases; returns the reason when they cannot be told apart. */
function orderPhases(frames: readonly Placed[], key: PhaseKey, toleranceMs: number): Placed[] | string {
  const tolerance = keyTolerance(key, toleranceMs);
  const groups = clusterSorted(frames, (f) => keyValue(f, key)!, tolerance);
  const dup = groups.find((g) => g.length > 1);
  if (dup) return `${dup.length} images ${keyWords(key, keyValue(dup[0]!, key)!, tolerance)}`;
  return groups.map((g) => g[0]!);
}

/**
 * The first key that every frame carries and that varies within the slices, with a note on the keys
 * passed over because they were constant. Undefined when no key is carried by every frame.
 */
function choosePhaseKey(sliceGroups: readonly (readonly Placed[])[], toleranceMs: number): { key: PhaseKey; note?: string } | undefined {
  const passedOver: string[] = [];
  let fallback: PhaseKey | undefined;
  for (const key of PHASE_KEYS) {
    if (!sliceGroups.every((g) => g.every((f) => keyValue(f, key) !== undefined))) continue;
    fallback ??= key;
    const tolerance = keyTolerance(key, toleranceMs);
    // Constant: every slice with more than one image has all of them within the tolerance of each other.
    const constant = sliceGroups.every((g) => {
      const values = g.map((f) => keyValue(f, key)!);
      return g.length < 2 || Math.max(...values) - Math.min(...values) <= tolerance;
    });
    if (constant && sliceGroups.some((g) => g.length > 1)) {
      passedOver.push(`${key} is constant within each slice`);
      continue;
    }
    return { key, ...(passedOver.length ? { note: passedOver.join(', ') } : {}) };
  }
  // Every carried key is constant: order by the most trusted one and let it report the duplicates.
  return fallback ? { key: fallback } : undefined;
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

  const chosenKey = choosePhaseKey(sliceGroups, rules.triggerTimeToleranceMs);
  if (!chosenKey) return fail('images have neither TemporalPositionIndex, TriggerTime, InstanceNumber nor AcquisitionTime to order phases');
  const phaseKey = chosenKey.key;

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
  const phaseTimesMs = phaseTimes(ordered);
  return { ok: true, plan: { frames: ordered, sliceNormal, slicePositionsMm, phaseTimesMs, phaseKey, ...(chosenKey.note ? { phaseKeyNote: chosenKey.note } : {}) } };
}

function mostCommon(values: readonly number[]): number {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || b[0] - a[0])[0]![0];
}

const ascending = (xs: readonly number[]): boolean => xs.every(Number.isFinite) && xs.every((x, i) => i === 0 || x > xs[i - 1]!);

/**
 * Time of each phase (ms): the mean trigger time over slices when every image has one and they rise
 * with the phase; else the mean acquisition time since each slice's first phase, when it rises; else
 * phase index x nominal interval (NominalInterval or HeartRate / phases, or 40 ms).
 */
function phaseTimes(ordered: readonly (readonly Placed[])[]): number[] {
  const phases = ordered[0]!.length;
  const meanOver = (value: (slice: readonly Placed[], p: number) => number | undefined): number[] =>
    Array.from({ length: phases }, (_, p) => {
      const vs = ordered.map((slice) => value(slice, p)).filter((t): t is number => t !== undefined);
      return vs.length === ordered.length ? mean(vs) : NaN;
    });
  const trigger = meanOver((slice, p) => slice[p]!.triggerTimeMs);
  if (ascending(trigger)) return trigger;
  const acquired = meanOver((slice, p) => {
    const t = slice[p]!.acquisitionTimeS;
    const t0 = slice[0]!.acquisitionTimeS;
    return t !== undefined && t0 !== undefined ? (t - t0) * 1000 : undefined;
  });
  // Acquisition times within one R-R interval (under 3 s) are phase times; longer spans are not.
  if (ascending(acquired) && acquired[phases - 1]! < 3000) return acquired.map((t) => Math.round(t * 10) / 10);
  const ds = ordered[0]![0]!.instance.dataset;
  const rr = Number(ds['NominalInterval']) > 0 ? Number(ds['NominalInterval']) : Number(ds['HeartRate']) > 0 ? 60000 / Number(ds['HeartRate']) : NaN;
  const interval = Number.isFinite(rr) ? rr / phases : 40;
  return Array.from({ length: phases }, (_, p) => p * interval);
}
