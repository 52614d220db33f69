/**
 * DICOM instances of one study -> the typed CineStudy: choose the cine short-axis series by rules,
 * plan its slice x phase grid from geometry and timing, then decode only that series' pixels.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { parseInstance, type ParsedInstance } from '../dicom/read/read-instance.js';
import { readUid, type FrameOfReferenceUID, type SeriesInstanceUID, type SOPClassUID, type SOPInstanceUID, type StudyInstanceUID } from '../dicom/uid.js';
import { BadInputError } from '../core/errors.js';
import type { StudyInstance } from '../core/study-instance.js';
import { studyContext } from './context.js';
import { firstNumber, firstText, frameRecords, type FrameRecord } from './frames.js';
import { angleDeg, angleToNearestAxisDeg, planeNormal } from '../core/geometry.js';
import { planGrid, type GridPlan } from './plan-grid.js';
import { parseSeriesSelectionRules, seriesMetadataRejection, type SeriesSelectionRules, type SeriesSelectionRulesInput } from './series-rules.js';
import type { CineStudy, SeriesDecision, SourceImage, Vec3 } from './types.js';


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
  return `cine stack of ${plan.frames.length} slices x ${plan.frames[0]!.length} phases (phases by ${plan.phaseKey})`;
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
function isAxisAligned(plan: GridPlan, rules: SeriesSelectionRules): boolean {
  return angleToNearestAxisDeg(plan.sliceNormal) < rules.maxAxisAlignmentDeg;
}

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

  const qualified: Array<{ series: SeriesCandidate; plan: GridPlan }> = [];
  const structural: Array<{ series: SeriesCandidate; reason: string }> = [];
  const singleSlice: SeriesCandidate[] = [];
  for (const series of bySeries.values()) {
    const rejection = metadataRejection(series, settings);
    if (rejection) {
      decide({ seriesInstanceUID: series.seriesInstanceUID, chosen: false, reason: rejection });
      continue;
    }
    const result = planGrid(uniqueFrames(series.instances), settings);
    if (!result.ok) {
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

  const size = (q: { plan: GridPlan }): number => q.plan.frames.length * q.plan.frames[0]!.length;
  qualified.sort(
    (a, b) =>
      size(b) - size(a) ||
      b.plan.frames.length - a.plan.frames.length ||
      a.series.seriesNumber - b.series.seriesNumber ||
      a.series.seriesInstanceUID.localeCompare(b.series.seriesInstanceUID),
  );
  const [winner, ...others] = qualified;
  decide({ seriesInstanceUID: winner!.series.seriesInstanceUID, chosen: true, reason: describePlan(winner!.plan) + (others.length ? ', the largest qualifying stack' : '') });
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

  // Decode each instance once (a multi-frame instance serves many grid cells).
  const decoded = new Map<ParsedInstance, Float32Array[]>();
  const pixelsOf = (frame: FrameRecord): Float32Array => {
    let frames = decoded.get(frame.instance);
    if (!frames) {
      frames = frame.instance.decodeGreyFrames();
      decoded.set(frame.instance, frames);
    }
    const grey = frames[frame.frameIndex];
    if (!grey) throw new BadInputError(`${frame.instance.source}: PixelData holds ${frames.length} frame(s), frame ${frame.frameIndex + 1} is missing`, studyInstanceUID);
    if (frame.rescaleSlope !== 1 || frame.rescaleIntercept !== 0) {
      // A fresh array per frame: rescale in place rather than copy.
      for (let i = 0; i < grey.length; i++) grey[i] = grey[i]! * frame.rescaleSlope + frame.rescaleIntercept;
    }
    return grey;
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
