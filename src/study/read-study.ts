/**
 * DICOM instances of one study -> the typed CineStudy: choose the cine short-axis series by rules,
 * plan its slice x phase grid from geometry and timing, then decode only that series' pixels.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { parseInstance, type CompactGreyFrame, type ParsedInstance } from '../dicom/read/read-instance.js';
import { readUid, type FrameOfReferenceUID, type SeriesInstanceUID, type SOPClassUID, type SOPInstanceUID, type StudyInstanceUID } from '../dicom/uid.js';
import { BadInputError } from '../core/errors.js';
import type { StudyInstance } from '../core/study-instance.js';
import { studyContext } from './context.js';
import { dateTimeS, firstNumber, firstText, frameRecords, timeOfDayS, type FrameRecord } from './frames.js';
import { angleDeg, angleToNearestAxisDeg, dot, planeNormal } from '../core/geometry.js';
import { planGrid, type GridPlan } from './plan-grid.js';
import { parseSeriesSelectionRules, seriesMetadataRejection, type SeriesSelectionRules, type SeriesSelectionRulesInput } from './series-rules.js';
import type { CineStudy, ImagePixels, SeriesDecision, SourceImage, Vec3 } from './types.js';


/** Receives each series decision as it is made (for the job log; decisions carry no patient data). */
export type SeriesDecisionLog = (decision: SeriesDecision) => void;

interface SeriesCandidate {
  readonly seriesInstanceUID: string;
  readonly instances: ParsedInstance[];
  readonly seriesNumber: number;
}

/** The metadata rules (modality, SOP class, description); undefined when the series passes. */
function metadataRejection(series: SeriesCandidate, rules: SeriesSelectionRules): string | undefined {
  const ds = series.instances[0]!.dataset;
  return seriesMetadataRejection(
    {
      modality: firstText(ds['Modality']) ?? '',
      sopClassUIDs: [...new Set(series.instances.map((i) => firstText(i.dataset['SOPClassUID']) ?? '(none)'))],
      seriesDescription: firstText(ds['SeriesDescription']) ?? '',
    },
    rules,
  );
}

function uniqueFrames(instances: readonly ParsedInstance[]): FrameRecord[] {
  const seen = new Set<string>();
  const out: FrameRecord[] = [];
  for (const instance of instances) {
    for (const frame of frameRecords(instance)) {
      // The same instance sent twice (a retried store) must not become two phases.
      const key = frame.sopInstanceUID ? `${frame.sopInstanceUID}#${frame.frameIndex}` : `${instance.source}#${frame.frameIndex}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(frame);
    }
  }
  return out;
}

function branded<B extends string>(value: unknown, attribute: string, studyUID: string | undefined, source: string) {
  try {
    return readUid<B>(value, attribute);
  } catch {
    throw new BadInputError(`${source}: ${attribute} is missing or invalid`, studyUID);
  }
}

function describePlan(plan: GridPlan): string {
  const note = plan.phaseKeyNote ? `; ${plan.phaseKeyNote}` : '';
  return `cine stack of ${plan.frames.length} slices x ${plan.frames[0]!.length} phases (phases by ${plan.phaseKey}${note})`;
}

function isAxisAligned(plan: GridPlan, rules: SeriesSelectionRules): boolean {
  return angleToNearestAxisDeg(plan.sliceNormal) < rules.maxAxisAlignmentDeg;
}

/** Planes this far apart (degrees between normals) are different views, not one wobbly stack. */
const SEPARATE_VIEW_DEG = 20;

/**
 * A series that mixes views (a localizer or long-axis cines stored with the short-axis stack): its
 * frames split by plane, each plane planned on its own, the best stack kept (oblique first under
 * 'prefer-short-axis', then the largest), with what was dropped in words. Undefined when the series
 * holds one view, when a frame lacks geometry, or when no view forms a stack.
 */
function planOneView(frames: readonly FrameRecord[], rules: SeriesSelectionRules): { plan: GridPlan; dropped: string } | undefined {
  if (frames.some((f) => !f.plane)) return undefined;
  const views: Array<{ normal: Vec3; frames: FrameRecord[] }> = [];
  for (const frame of frames) {
    const normal = planeNormal(frame.plane!.imageOrientationPatient);
    // A reversed normal is the same plane family (a flipped image of the same view).
    const view = views.find((v) => Math.min(angleDeg(v.normal, normal), 180 - angleDeg(v.normal, normal)) < SEPARATE_VIEW_DEG);
    if (view) view.frames.push(frame);
    else views.push({ normal, frames: [frame] });
  }
  if (views.length < 2) return undefined;
  const planned = views.map((view) => ({ view, result: planGrid(view.frames, rules) }));
  const stacks = planned.flatMap(({ view, result }) => (result.ok ? [{ view, plan: result.plan }] : []));
  if (stacks.length === 0) return undefined;
  const oblique = (plan: GridPlan): number => (rules.orientation === 'prefer-short-axis' && !isAxisAligned(plan, rules) ? 1 : 0);
  stacks.sort((a, b) => oblique(b.plan) - oblique(a.plan) || b.plan.frames.length * b.plan.frames[0]!.length - a.plan.frames.length * a.plan.frames[0]!.length);
  const kept = stacks[0]!;
  const others = planned.filter((p) => p.view !== kept.view);
  const droppedImages = others.reduce((n, p) => n + p.view.frames.length, 0);
  const kinds = others.map(({ view, result }) => {
    const positions = new Set(view.frames.map((f) => Math.round(dot(f.plane!.imagePositionPatient, view.normal)))).size;
    const what = positions === 1 ? 'one plane (localizer or long-axis view)' : result.ok ? `another stack (${describePlan(result.plan)})` : `${positions} positions`;
    return `${view.frames.length} image(s) in ${what} at ${Math.round(Math.min(angleDeg(view.normal, kept.view.normal), 180 - angleDeg(view.normal, kept.view.normal)))}°`;
  });
  return { plan: kept.plan, dropped: `kept the ${oblique(kept.plan) ? 'short-axis (oblique) ' : ''}stack of this series; dropped ${droppedImages} image(s) of other views: ${kinds.join('; ')}` };
}

/** When the series was acquired (s): SeriesDate + SeriesTime, else its earliest acquisition time; undefined when unknown. */
function seriesStartS(series: SeriesCandidate, plan: GridPlan): number | undefined {
  const ds = series.instances[0]!.dataset;
  const date = firstText(ds['SeriesDate']);
  const time = firstText(ds['SeriesTime']);
  if (date && time) {
    const at = dateTimeS(`${date}${time.replaceAll(':', '')}`);
    if (at !== undefined) return at;
  }
  if (time) return timeOfDayS(time);
  const acquired = plan.frames.flat().map((f) => f.acquisitionTimeS).filter((t): t is number => t !== undefined);
  return acquired.length ? Math.min(...acquired) : undefined;
}

interface Qualified {
  readonly series: SeriesCandidate;
  readonly plan: GridPlan;
  /** What was dropped from a mixed-view series, for the decision. */
  readonly note?: string;
}

/**
 * Repeats: stacks that share a SeriesDescription (and plane) are one acquisition done again, usually
 * because the first was spoiled (breathing, arrhythmia). The later complete one is kept: complete means
 * as many slices as the fullest of them. Returns the stacks to keep and a decision for each dropped one.
 */
function keepLaterRepeats(qualified: readonly Qualified[]): { kept: Qualified[]; dropped: SeriesDecision[]; repeatsKept: Set<SeriesCandidate> } {
  const groups: Array<{ description: string; members: Qualified[] }> = [];
  for (const q of qualified) {
    const description = (firstText(q.series.instances[0]!.dataset['SeriesDescription']) ?? '').trim().toLowerCase();
    const plane = q.plan.frames[0]![0]!.plane;
    const group = description
      ? groups.find((g) => {
          const first = g.members[0]!;
          const other = first.plan.frames[0]![0]!.plane;
          return g.description === description && other.rows === plane.rows && other.columns === plane.columns && angleDeg(first.plan.sliceNormal, q.plan.sliceNormal) < SEPARATE_VIEW_DEG;
        })
      : undefined;
    if (group) group.members.push(q);
    else groups.push({ description, members: [q] });
  }
  const kept: Qualified[] = [];
  const dropped: SeriesDecision[] = [];
  const repeatsKept = new Set<SeriesCandidate>();
  for (const { members } of groups) {
    if (members.length === 1) {
      kept.push(members[0]!);
      continue;
    }
    const fullest = Math.max(...members.map((m) => m.plan.frames.length));
    const starts = members.map((m) => seriesStartS(m.series, m.plan));
    const byTime = starts.every((t) => t !== undefined);
    const order = members
      .map((m, i) => ({ m, at: byTime ? starts[i]! : m.series.seriesNumber }))
      .sort((a, b) => b.at - a.at || b.m.series.seriesNumber - a.m.series.seriesNumber);
    const winner = order.find((o) => o.m.plan.frames.length === fullest)!.m;
    kept.push(winner);
    repeatsKept.add(winner.series);
    const by = byTime ? 'acquisition time' : 'SeriesNumber';
    const description = firstText(winner.series.instances[0]!.dataset['SeriesDescription']) ?? '';
    for (const { m } of order) {
      if (m === winner) continue;
      const later = (byTime ? starts[members.indexOf(m)]! : m.series.seriesNumber) > (byTime ? starts[members.indexOf(winner)]! : winner.series.seriesNumber);
      const why = later
        ? `a later but incomplete repeat (${m.plan.frames.length} of ${fullest} slices)`
        : 'an earlier acquisition';
      dropped.push({
        seriesInstanceUID: m.series.seriesInstanceUID,
        chosen: false,
        reason: `${describePlan(m.plan)}, ${why} of SeriesDescription "${description}": series ${winner.series.seriesInstanceUID} is taken, the latest complete one (by ${by})`,
      });
    }
  }
  return { kept, dropped, repeatsKept };
}

/**
 * Reads one study's instances into a CineStudy.
 * @param instances every instance of the study (other series are considered and rejected with a reason)
 * @param rules series selection rules; missing fields take their defaults
 * @param log called with each series decision
 * @throws BadInputError when no series is a usable cine stack (the message gives the reasons), or the
 *   chosen series has missing or broken pixel data; UnsupportedEncodingError for a transfer syntax this
 *   reader cannot decode (the caller can ask Orthanc to transcode).
 */
export function readStudy(
  instances: ReadonlyArray<StudyInstance>,
  rules?: SeriesSelectionRulesInput | SeriesSelectionRules,
  log?: SeriesDecisionLog,
): CineStudy {
  const settings = parseSeriesSelectionRules(rules ?? {});
  if (instances.length === 0) throw new BadInputError('no instances to read');
  const decisions: SeriesDecision[] = [];
  const decide = (decision: SeriesDecision): void => {
    decisions.push(decision);
    log?.(decision);
  };

  const parsed: ParsedInstance[] = [];
  let firstFailure: unknown;
  for (const { source, bytes } of instances) {
    try {
      parsed.push(parseInstance(source, bytes));
    } catch (error) {
      if (!(error instanceof BadInputError)) throw error;
      firstFailure ??= error;
      decide({ seriesInstanceUID: '(unreadable file)', chosen: false, reason: error.message });
    }
  }
  if (parsed.length === 0) throw firstFailure;

  const bySeries = new Map<string, SeriesCandidate>();
  for (const instance of parsed) {
    const uid = firstText(instance.dataset['SeriesInstanceUID']) ?? '(no SeriesInstanceUID)';
    let series = bySeries.get(uid);
    if (!series) {
      series = { seriesInstanceUID: uid, instances: [], seriesNumber: firstNumber(instance.dataset['SeriesNumber']) ?? Number.MAX_SAFE_INTEGER };
      bySeries.set(uid, series);
    }
    series.instances.push(instance);
  }
  const studyUIDs = new Set(parsed.map((i) => i.studyInstanceUID).filter((u): u is string => u !== undefined));
  const studyForErrors = studyUIDs.size === 1 ? [...studyUIDs][0] : undefined;

  let qualified: Qualified[] = [];
  const structural: Array<{ series: SeriesCandidate; reason: string }> = [];
  const singleSlice: SeriesCandidate[] = [];
  for (const series of bySeries.values()) {
    const rejection = metadataRejection(series, settings);
    if (rejection) {
      decide({ seriesInstanceUID: series.seriesInstanceUID, chosen: false, reason: rejection });
      continue;
    }
    const frames = uniqueFrames(series.instances);
    const result = planGrid(frames, settings);
    if (!result.ok) {
      const oneView = result.singleSlice ? undefined : planOneView(frames, settings);
      if (oneView) {
        qualified.push({ series, plan: oneView.plan, note: oneView.dropped });
        continue;
      }
      if (result.singleSlice) singleSlice.push(series);
      // Logged below, once it is known whether the series joins a stack of single-slice series.
      structural.push({ series, reason: result.reason });
      continue;
    }
    qualified.push({ series, plan: result.plan });
  }

  if (qualified.length === 0 && singleSlice.length >= settings.minSlices) {
    // Some scanners store each slice of a cine stack as its own series: try them as one stack.
    const merged = mergeSingleSliceSeries(singleSlice, settings);
    if (merged) {
      const uids = new Set(merged.series.instances.map((i) => firstText(i.dataset['SeriesInstanceUID']) ?? ''));
      for (const { series, reason } of structural) {
        if (!uids.has(series.seriesInstanceUID)) decide({ seriesInstanceUID: series.seriesInstanceUID, chosen: false, reason });
      }
      for (const uid of uids) {
        decide({ seriesInstanceUID: uid, chosen: true, reason: `one slice of a stack stored as ${merged.count} single-slice series: ${describePlan(merged.plan)}` });
      }
      return buildStudy(merged.series, merged.plan, decisions);
    }
  }

  for (const { series, reason } of structural) decide({ seriesInstanceUID: series.seriesInstanceUID, chosen: false, reason });

  if (qualified.length === 0) {
    if (structural.length === 1) {
      const only = structural[0]!;
      throw new BadInputError(`series ${only.series.seriesInstanceUID}: ${only.reason}`, studyForErrors);
    }
    const shown = decisions.slice(0, 8).map((d) => `${d.seriesInstanceUID}: ${d.reason}`);
    if (decisions.length > shown.length) shown.push(`and ${decisions.length - shown.length} more`);
    const reasons = shown.join('; ');
    throw new BadInputError(`no cine short-axis series (${reasons})`, studyForErrors);
  }

  if (settings.orientation === 'prefer-short-axis' && qualified.some((q) => !isAxisAligned(q.plan, settings))) {
    for (let i = qualified.length - 1; i >= 0; i--) {
      const q = qualified[i]!;
      if (!isAxisAligned(q.plan, settings)) continue;
      decide({ seriesInstanceUID: q.series.seriesInstanceUID, chosen: false, reason: `${describePlan(q.plan)}, plane is axial, coronal or sagittal while an oblique (short-axis) stack is present` });
      qualified.splice(i, 1);
    }
  }

  const repeats = keepLaterRepeats(qualified);
  qualified = repeats.kept;
  for (const d of repeats.dropped) decide(d);

  const size = (q: { plan: GridPlan }): number => q.plan.frames.length * q.plan.frames[0]!.length;
  qualified.sort(
    (a, b) =>
      size(b) - size(a) ||
      b.plan.frames.length - a.plan.frames.length ||
      a.series.seriesNumber - b.series.seriesNumber ||
      a.series.seriesInstanceUID.localeCompare(b.series.seriesInstanceUID),
  );
  const [winner, ...others] = qualified;
  const notes = [others.length ? 'the largest qualifying stack' : '', repeats.repeatsKept.has(winner!.series) ? 'the latest complete acquisition of its SeriesDescription' : '', winner!.note ?? ''].filter(Boolean);
  decide({ seriesInstanceUID: winner!.series.seriesInstanceUID, chosen: true, reason: [describePlan(winner!.plan), ...notes].join(', ') });
  for (const other of others) {
    decide({ seriesInstanceUID: other.series.seriesInstanceUID, chosen: false, reason: `${describePlan(other.plan)}, smaller than the chosen series` });
  }
  return buildStudy(winner!.series, winner!.plan, decisions);
}

/**
 * Plans one stack from single-slice series (long-axis views are single-slice series too: series are
 * grouped by orientation and matrix first, and the largest group that forms a stack wins).
 */
function mergeSingleSliceSeries(series: readonly SeriesCandidate[], rules: SeriesSelectionRules): { series: SeriesCandidate; plan: GridPlan; count: number } | undefined {
  const groups: Array<{ normal: Vec3; rows: number; columns: number; members: SeriesCandidate[] }> = [];
  for (const candidate of series) {
    const plane = frameRecords(candidate.instances[0]!)[0]?.plane;
    if (!plane) continue;
    const normal = planeNormal(plane.imageOrientationPatient);
    const group = groups.find((g) => g.rows === plane.rows && g.columns === plane.columns && angleDeg(g.normal, normal) <= rules.orientationToleranceDeg);
    if (group) group.members.push(candidate);
    else groups.push({ normal, rows: plane.rows, columns: plane.columns, members: [candidate] });
  }
  groups.sort((a, b) => b.members.length - a.members.length);
  for (const group of groups) {
    if (group.members.length < rules.minSlices) break;
    const ordered = [...group.members].sort((a, b) => a.seriesNumber - b.seriesNumber || a.seriesInstanceUID.localeCompare(b.seriesInstanceUID));
    const instances = ordered.flatMap((s) => s.instances);
    const result = planGrid(uniqueFrames(instances), rules);
    if (!result.ok) continue;
    // The context names the series of the first slice; each image keeps its own series UID.
    const firstSeries = result.plan.frames[0]![0]!.seriesInstanceUID;
    return { series: { seriesInstanceUID: firstSeries, instances, seriesNumber: ordered[0]!.seriesNumber }, plan: result.plan, count: ordered.length };
  }
  return undefined;
}

function buildStudy(series: SeriesCandidate, plan: GridPlan, decisions: readonly SeriesDecision[]): CineStudy {
  const firstFrame = plan.frames[0]![0]!;
  const firstDataset = firstFrame.instance.dataset;
  const studyInstanceUID = branded<'StudyInstanceUID'>(firstDataset['StudyInstanceUID'], 'StudyInstanceUID', undefined, firstFrame.instance.source) as StudyInstanceUID;
  const seriesInstanceUID = branded<'SeriesInstanceUID'>(series.seriesInstanceUID, 'SeriesInstanceUID', studyInstanceUID, firstFrame.instance.source) as SeriesInstanceUID;

  // Decode each instance once (a multi-frame instance serves many grid cells). Stored integers stay
  // integers (often views on the instance's bytes, no copy): only a rescale turns a frame into Float32.
  const decoded = new Map<ParsedInstance, CompactGreyFrame[]>();
  const pixelsOf = (frame: FrameRecord): ImagePixels => {
    let frames = decoded.get(frame.instance);
    if (!frames) {
      frames = frame.instance.decodeCompactGreyFrames();
      decoded.set(frame.instance, frames);
    }
    const grey = frames[frame.frameIndex];
    if (!grey) throw new BadInputError(`${frame.instance.source}: PixelData holds ${frames.length} frame(s), frame ${frame.frameIndex + 1} is missing`, studyInstanceUID);
    if (frame.rescaleSlope === 1 && frame.rescaleIntercept === 0) return grey;
    const { rescaleSlope: slope, rescaleIntercept: intercept } = frame;
    if (grey instanceof Float32Array) {
      // A fresh array per frame: rescale in place rather than copy.
      for (let i = 0; i < grey.length; i++) grey[i] = grey[i]! * slope + intercept;
      return grey;
    }
    // Stored samples may view the file's bytes (read-only): the modality values go to a new array.
    const values = new Float32Array(grey.length);
    for (let i = 0; i < grey.length; i++) values[i] = grey[i]! * slope + intercept;
    return values;
  };

  const images: SourceImage[][] = plan.frames.map((phases) =>
    phases.map((frame) => {
      const source = frame.instance.source;
      return {
        sopClassUID: branded<'SOPClassUID'>(frame.sopClassUID, 'SOPClassUID', studyInstanceUID, source) as SOPClassUID,
        sopInstanceUID: branded<'SOPInstanceUID'>(frame.sopInstanceUID, 'SOPInstanceUID', studyInstanceUID, source) as SOPInstanceUID,
        seriesInstanceUID:
          frame.seriesInstanceUID === seriesInstanceUID
            ? seriesInstanceUID
            : (branded<'SeriesInstanceUID'>(frame.seriesInstanceUID, 'SeriesInstanceUID', studyInstanceUID, source) as SeriesInstanceUID),
        ...(frame.multiFrame ? { frameNumber: frame.frameIndex + 1 } : {}),
        plane: frame.plane,
        ...(frame.triggerTimeMs !== undefined ? { triggerTimeMs: frame.triggerTimeMs } : {}),
        pixels: pixelsOf(frame),
      };
    }),
  );

  // Scanners may write a different FrameOfReferenceUID per file: report the most common one.
  const forCounts = new Map<string, number>();
  for (const phases of plan.frames) for (const f of phases) if (f.frameOfReferenceUID) forCounts.set(f.frameOfReferenceUID, (forCounts.get(f.frameOfReferenceUID) ?? 0) + 1);
  const frameOfReference = [...forCounts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]?.[0];

  return {
    context: studyContext(firstDataset, studyInstanceUID, seriesInstanceUID, frameOfReference as FrameOfReferenceUID | undefined),
    grid: {
      slices: images.length,
      phases: images[0]!.length,
      images,
      sliceNormal: plan.sliceNormal,
      slicePositionsMm: plan.slicePositionsMm,
      phaseTimesMs: plan.phaseTimesMs,
    },
    decisions,
  };
}

/** Every regular file under `dir`, recursively, in a stable order. */
async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && !e.name.startsWith('.'))
    .map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name))
    .sort();
}

/**
 * Reads every file under `dir` (recursively; DICOMDIR and files that are not DICOM are skipped with a
 * decision) as one study. Sources in errors are paths relative to `dir`.
 */
export async function readStudyFolder(dir: string, rules?: SeriesSelectionRulesInput | SeriesSelectionRules, log?: SeriesDecisionLog): Promise<CineStudy> {
  const files = (await listFiles(dir)).filter((f) => !/(^|\/)DICOMDIR$/iu.test(f));
  if (files.length === 0) throw new BadInputError(`no files in ${dir}`);
  const instances = await Promise.all(files.map(async (file) => ({ source: relative(dir, file), bytes: new Uint8Array(await readFile(file)) })));
  return readStudy(instances, rules, log);
}
