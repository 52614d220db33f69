/**
 * Routing: which studies the service processes. Pure: facts and rules in, a decision with its reason
 * out. Our own outputs (SEG, SR, overlay) and studies already processed for this model never qualify.
 */
import type { ServiceConfig } from '../config/schema.js';
import type { SeriesFacts, StudyFacts } from '../orthanc/study-facts.js';
import { seriesMetadataRejection } from '../study/series-rules.js';
import { METADATA } from './marking.js';
import { pickCalibration, scopeMatches, type CalibrationProfile, type StudyEquipment } from '../calibration/profile.js';

/** What routing needs of an active calibration. */
export type RoutableCalibration = Pick<CalibrationProfile, 'id' | 'created' | 'scope' | 'opens'>;

export type RoutingRules = ServiceConfig['routing'];
export type OwnOutputRules = ServiceConfig['ownOutputs'];

/** SOP classes of derived objects we may write: SEG, SR (basic, enhanced, comprehensive, 3D), Secondary Capture. */
export const DERIVED_SOP_CLASSES: ReadonlySet<string> = new Set([
  '1.2.840.10008.5.1.4.1.1.66.4',
  '1.2.840.10008.5.1.4.1.1.88.11',
  '1.2.840.10008.5.1.4.1.1.88.22',
  '1.2.840.10008.5.1.4.1.1.88.33',
  '1.2.840.10008.5.1.4.1.1.88.34',
  '1.2.840.10008.5.1.4.1.1.7',
]);
const DERIVED_MODALITIES: ReadonlySet<string> = new Set(['SEG', 'SR', 'OT']);

export type RouteDecision =
  | {
      readonly action: 'process';
      readonly series: readonly SeriesFacts[];
      readonly reason: string;
      /** The active calibration chosen for this study (most specific matching scope), or undefined: the bare model. */
      readonly calibration?: RoutableCalibration;
    }
  | { readonly action: 'skip'; readonly reason: string };

export interface RouteOptions {
  readonly rules: RoutingRules;
  readonly ownOutputs: OwnOutputRules;
  /** Model name, version and calibration this service runs (the PulseModel value it writes). */
  readonly modelKey: string;
  /** A user asked for this study again: do not skip it as already processed. */
  readonly forced?: boolean;
  /** Active calibrations of this model (none: the bare model for every study). */
  readonly calibrations?: readonly RoutableCalibration[];
}

/** The attributes calibration scopes look at, for one series of a study. */
export function seriesEquipment(series: SeriesFacts, facts: Pick<StudyFacts, 'institutionName'>): StudyEquipment {
  return {
    modality: series.modality,
    manufacturer: series.manufacturer,
    seriesDescription: series.seriesDescription,
    ...(series.manufacturerModelName !== undefined ? { manufacturerModelName: series.manufacturerModelName } : {}),
    ...(series.stationName !== undefined ? { stationName: series.stationName } : {}),
    ...(facts.institutionName !== undefined ? { institutionName: facts.institutionName } : {}),
  };
}

/** The routing rules widened by what matching calibrations open (their modalities and SOP classes). */
function rulesFor(series: SeriesFacts, facts: StudyFacts, rules: RoutingRules, calibrations: readonly RoutableCalibration[]): RoutingRules {
  const equipment = seriesEquipment(series, facts);
  const opening = calibrations.filter((c) => scopeMatches(c.scope, equipment));
  if (opening.length === 0) return rules;
  return {
    ...rules,
    series: {
      ...rules.series,
      modalities: [...new Set([...rules.series.modalities, ...opening.flatMap((c) => c.opens.modalities)])],
      sopClassUIDs: [...new Set([...rules.series.sopClassUIDs, ...opening.flatMap((c) => c.opens.sopClassUIDs)])],
    },
  };
}

/**
 * True when a series is one the service wrote: our Manufacturer or our SeriesDescription on a derived
 * object, or both on an image series (the viewer phase copies).
 */
export function isOwnOutput(series: SeriesFacts, own: OwnOutputRules): boolean {
  const manufacturer = new RegExp(own.manufacturer, 'i');
  const description = new RegExp(own.seriesDescription, 'i');
  const derived = DERIVED_MODALITIES.has(series.modality.toUpperCase()) || (series.sopClassUID !== undefined && DERIVED_SOP_CLASSES.has(series.sopClassUID));
  const ours = series.manufacturer !== '' && manufacturer.test(series.manufacturer);
  if (ours && derived) return true;
  // An image series with both our Manufacturer and our description: a viewer phase copy (dicom/phase-series.ts).
  if (ours && series.seriesDescription !== '' && description.test(series.seriesDescription)) return true;
  return derived && series.seriesDescription !== '' && description.test(series.seriesDescription);
}

/** Why a series is not a candidate, or undefined when it is one: the reader's metadata rules, then body part. */
export function seriesRejection(series: SeriesFacts, rules: RoutingRules): string | undefined {
  const metadata = seriesMetadataRejection(
    { modality: series.modality, sopClassUIDs: series.sopClassUID !== undefined ? [series.sopClassUID] : [], seriesDescription: series.seriesDescription },
    rules.series,
  );
  if (metadata !== undefined) return metadata;
  if (rules.bodyParts !== undefined && series.bodyPartExamined !== '') {
    const parts = rules.bodyParts.map((p) => p.toUpperCase());
    if (!parts.includes(series.bodyPartExamined.toUpperCase())) return `BodyPartExamined ${series.bodyPartExamined} not in [${parts.join(', ')}]`;
  }
  return undefined;
}

/** Slices and phases of the cine stack a series holds, from instance positions and frame counts. */
export function cineShape(series: SeriesFacts): { slices: number; phases: number } {
  const multiFrame = series.instances.filter((i) => (i.numberOfFrames ?? 1) > 1);
  if (multiFrame.length > 0) {
    // An enhanced multi-frame cine keeps its geometry in functional groups that Orthanc does not index:
    // count frames as slices x phases, with at least one slice per instance.
    const frames = multiFrame.reduce((n, i) => n + (i.numberOfFrames ?? 1), 0);
    const slices = Math.max(multiFrame.length, 1);
    return { slices, phases: Math.floor(frames / slices) };
  }
  const byPosition = new Map<string, number>();
  for (const instance of series.instances) {
    const key = positionKey(instance.imagePositionPatient);
    if (key === undefined) continue;
    byPosition.set(key, (byPosition.get(key) ?? 0) + 1);
  }
  if (byPosition.size === 0) return { slices: 0, phases: 0 };
  const counts = [...byPosition.values()].sort((a, b) => b - a);
  // Phases: the count most positions share (a slice with a missing phase does not lower it for all).
  const phases = counts[Math.floor(counts.length / 2)]!;
  const slices = counts.filter((c) => c >= Math.min(phases, 2)).length;
  return { slices, phases };
}

function positionKey(text: string | undefined): string | undefined {
  if (text === undefined || text === '') return undefined;
  const values = text.split('\\').map(Number);
  if (values.length !== 3 || values.some((v) => !Number.isFinite(v))) return undefined;
  // 0.1 mm: positions written with different precision still group together.
  return values.map((v) => Math.round(v * 10)).join(',');
}

/** The routing decision for one study. Every skip carries a reason a PACS administrator can act on. */
export function routeStudy(facts: StudyFacts, options: RouteOptions): RouteDecision {
  const { rules } = options;
  const own = facts.series.filter((s) => isOwnOutput(s, options.ownOutputs));
  const others = facts.series.filter((s) => !own.includes(s));
  if (others.length === 0) {
    return { action: 'skip', reason: own.length > 0 ? 'the study holds only PULSE outputs' : 'the study has no series' };
  }
  if (rules.studyDescription !== undefined && !new RegExp(rules.studyDescription, 'i').test(facts.studyDescription)) {
    return { action: 'skip', reason: `StudyDescription does not match /${rules.studyDescription}/` };
  }
  if (rules.callingAETitles !== undefined) {
    const accepted = rules.callingAETitles.map((a) => a.trim().toUpperCase());
    const callers = [...new Set(others.map((s) => (s.remoteAET ?? '').trim()))];
    if (!callers.some((c) => accepted.includes(c.toUpperCase()))) {
      return { action: 'skip', reason: `calling AE title ${callers.map((c) => c || '(none: not received over DICOM)').join(', ')} not in [${accepted.join(', ')}]` };
    }
  }
  const rejections: string[] = [];
  const candidates = others.filter((s) => {
    const why = seriesRejection(s, rulesFor(s, facts, rules, options.calibrations ?? []));
    if (why !== undefined) rejections.push(`series ${s.seriesInstanceUID}: ${why}`);
    return why === undefined;
  });
  if (candidates.length === 0) return { action: 'skip', reason: `no series qualifies (${rejections.join('; ')})` };
  // The calibration is chosen on the first candidate series (the cine stack the pipeline will read).
  const decide = (series: readonly SeriesFacts[], reason: string): RouteDecision => {
    const calibration = pickCalibration(options.calibrations ?? [], seriesEquipment(series[0]!, facts));
    const key = calibration ? `${options.modelKey}+${calibration.id}` : options.modelKey;
    if (!options.forced && facts.metadata[METADATA.model] === key && facts.metadata[METADATA.status] === 'done') {
      return { action: 'skip', reason: `already processed for ${key} (study metadata ${METADATA.model})` };
    }
    return { action: 'process', series, reason: calibration ? `${reason}; calibration ${calibration.id}` : reason, ...(calibration ? { calibration } : {}) };
  };
  if (!rules.requireCine) return decide(candidates, `${candidates.length} candidate series`);
  const shapes = candidates.map((s) => ({ series: s, ...cineShape(s) }));
  const { minSlices, minPhases } = rules.series;
  const cine = shapes.filter((s) => s.slices >= minSlices && s.phases >= minPhases);
  if (cine.length === 0) {
    const best = shapes.sort((a, b) => b.slices * b.phases - a.slices * a.phases)[0]!;
    return {
      action: 'skip',
      reason: `no cine stack: the best candidate series has ${best.slices} slices x ${best.phases} phases (need at least ${minSlices} x ${minPhases})`,
    };
  }
  return decide(cine.map((s) => s.series), cine.map((s) => `cine series ${s.series.seriesInstanceUID}: ${s.slices} x ${s.phases}`).join('; '));
}
