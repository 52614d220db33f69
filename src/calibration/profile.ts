/**
 * What a calibration is, as stored (versioned JSON under the data folder), and the pure rules around
 * it: scope matching (which studies it serves, most specific wins) and promotion (does it beat what
 * runs now by enough, without harming any structure).
 */
import type { AnnotationCoverage, CaseScore, EndToEndScore, EndToEndSummary, SummaryMetrics } from './cases.js';
import type { LinearHeadParameters } from './head.js';
import type { IntensityMapParameters } from './intensity.js';

/**
 * Match rules on the study's chosen series (any subset; all given ones must match). Strings compare
 * case-insensitively after trimming; `seriesDescription` is a regular expression.
 */
export interface CalibrationScope {
  readonly modality?: string;
  readonly manufacturer?: string;
  readonly manufacturerModelName?: string;
  readonly stationName?: string;
  readonly institutionName?: string;
  readonly seriesDescription?: string;
}

export const SCOPE_KEYS = ['modality', 'manufacturer', 'manufacturerModelName', 'stationName', 'institutionName', 'seriesDescription'] as const;

/** The values a study offers to scope rules (its cine series' attributes). */
export type StudyEquipment = { readonly [K in (typeof SCOPE_KEYS)[number]]?: string };

export type CalibrationStatus = 'active' | 'inactive' | 'rejected';

export interface CalibrationMetrics {
  /** What the comparison ran against: 'bare model' or the id of the calibration active then. */
  readonly against: string;
  readonly before: SummaryMetrics;
  /** Leave-one-study-out: each study scored by a head fitted without it. */
  readonly after: SummaryMetrics;
  readonly perStudy: { readonly before: readonly CaseScore[]; readonly after: readonly CaseScore[] };
  /**
   * What the user gets, leave-one-study-out: each held-out study through the whole pipeline (every
   * phase, the pipeline's own ED/ES choice, clean-up, measurements) under what runs now and under
   * the fold's adapter, against the reference's LV figures. Null when it was not measured (no study
   * with ED and ES annotated on every slice, or the annotation-level rule already refused).
   */
  readonly endToEnd?: {
    readonly before: EndToEndSummary;
    readonly after: EndToEndSummary;
    readonly perStudy: { readonly before: readonly EndToEndScore[]; readonly after: readonly EndToEndScore[] };
  } | null;
}

export interface PromotionRule {
  /** Mean Dice over structures must rise by at least this much. @defaultValue 0.01 */
  readonly minGain: number;
  /** No structure's Dice may fall by more than this. @defaultValue 0.02 */
  readonly maxStructureLoss: number;
  /** LVEF MAE may rise by at most this many points. @defaultValue 1 */
  readonly maxLvefMaeIncrease: number;
  /** Fewest annotated studies a calibration is evaluated on. @defaultValue 2 */
  readonly minStudies: number;
  /** End to end (the pipeline's own ED/ES and measurements): LVEF MAE may rise by at most this many points. @defaultValue 1 */
  readonly maxEndToEndLvefMaeIncrease: number;
  /** End to end: the mean relative error of EDV and ESV may rise by at most this much (0.05 = 5 percentage points). @defaultValue 0.05 */
  readonly maxEndToEndVolumeErrorIncrease: number;
}

export const DEFAULT_PROMOTION_RULE: PromotionRule = { minGain: 0.01, maxStructureLoss: 0.02, maxLvefMaeIncrease: 1, minStudies: 2, maxEndToEndLvefMaeIncrease: 1, maxEndToEndVolumeErrorIncrease: 0.05 };

export interface CalibrationProfile {
  readonly format: 'pulse-calibration';
  readonly formatVersion: 1;
  readonly id: string;
  readonly created: string;
  /** What was decided when it was made (the current state lives in the store's state file). */
  readonly promoted: boolean;
  readonly reason: string;
  readonly model: { readonly name: string; readonly version: string };
  readonly scope: CalibrationScope;
  /**
   * Modalities and SOP classes this calibration lets through series selection (a calibration may open
   * a modality the bare model refuses, e.g. US or CT).
   */
  readonly opens: { readonly modalities: readonly string[]; readonly sopClassUIDs: readonly string[] };
  readonly k: number;
  /** SHA-256 of each source StudyInstanceUID (first 16 hex digits). */
  readonly sourceStudies: readonly string[];
  readonly annotation: AnnotationCoverage;
  readonly metrics: CalibrationMetrics | null;
  /** Leave-one-study-out summary of every adapter candidate tried (the best one is kept). */
  readonly candidates?: Readonly<Record<string, SummaryMetrics>>;
  readonly parameters: {
    readonly head: LinearHeadParameters;
    /** The site intensity map on the model input, when the chosen candidate has one. */
    readonly intensity?: IntensityMapParameters | null;
    readonly fit: Readonly<Record<string, number | string>>;
    readonly promotion: PromotionRule;
  };
  readonly timingsMs: Readonly<Record<string, number>>;
}

// ---------------------------------------------------------------- scope

const norm = (v: string | undefined): string => (v ?? '').trim().toLowerCase();

/** True when every rule the scope gives matches the study. */
export function scopeMatches(scope: CalibrationScope, study: StudyEquipment): boolean {
  for (const key of SCOPE_KEYS) {
    const rule = scope[key];
    if (rule === undefined || rule === '') continue;
    if (key === 'seriesDescription') {
      if (!new RegExp(rule, 'i').test(study.seriesDescription ?? '')) return false;
    } else if (norm(rule) !== norm(study[key])) return false;
  }
  return true;
}

/** How many rules a scope sets: the more, the more specific. */
export function specificity(scope: CalibrationScope): number {
  return SCOPE_KEYS.filter((k) => scope[k] !== undefined && scope[k] !== '').length;
}

/**
 * The calibration for a study: among `candidates` (active, of this model), those whose scope matches;
 * the most specific wins, then the newest. Undefined: the bare model.
 */
export function pickCalibration<P extends Pick<CalibrationProfile, 'scope' | 'created' | 'id'>>(candidates: readonly P[], study: StudyEquipment): P | undefined {
  const matching = candidates.filter((c) => scopeMatches(c.scope, study));
  matching.sort((a, b) => specificity(b.scope) - specificity(a.scope) || b.created.localeCompare(a.created) || b.id.localeCompare(a.id));
  return matching[0];
}

/** The scope the K studies share: every attribute they all have with one value (series description left out). */
export function sharedScope(studies: readonly StudyEquipment[]): CalibrationScope {
  const scope: Record<string, string> = {};
  for (const key of SCOPE_KEYS) {
    if (key === 'seriesDescription') continue;
    const values = new Set(studies.map((s) => (s[key] ?? '').trim()));
    const [only] = [...values];
    if (values.size === 1 && only) scope[key] = only;
  }
  return scope;
}

/** Two scopes that select the same studies by the same rules (activating one retires the other). */
export function sameScope(a: CalibrationScope, b: CalibrationScope): boolean {
  return SCOPE_KEYS.every((k) => norm(a[k]) === norm(b[k]));
}

// ---------------------------------------------------------------- promotion

const mean = (values: readonly number[]): number => values.reduce((s, v) => s + v, 0) / values.length;

/**
 * Promote only when the mean Dice gain reaches `minGain`, no structure loses more than
 * `maxStructureLoss`, and LVEF MAE does not rise by more than `maxLvefMaeIncrease`.
 */
export function promotionDecision(before: SummaryMetrics, after: SummaryMetrics, rule: PromotionRule): { promoted: boolean; reason: string } {
  const keys = Object.keys(before.dice).filter((k) => typeof before.dice[k] === 'number' && typeof after.dice[k] === 'number');
  if (keys.length === 0) return { promoted: false, reason: 'no structure could be scored on the annotations' };
  const losses = keys.filter((k) => after.dice[k]! - before.dice[k]! < -rule.maxStructureLoss);
  if (losses.length > 0) {
    return {
      promoted: false,
      reason: `Dice falls by more than ${rule.maxStructureLoss} for ${losses.map((k) => `${k.toUpperCase()} (${before.dice[k]!.toFixed(3)} -> ${after.dice[k]!.toFixed(3)})`).join(', ')}`,
    };
  }
  if (before.lvefMae !== null && after.lvefMae !== null && after.lvefMae - before.lvefMae > rule.maxLvefMaeIncrease) {
    return { promoted: false, reason: `LVEF MAE rises from ${before.lvefMae.toFixed(1)} to ${after.lvefMae.toFixed(1)} points (more than ${rule.maxLvefMaeIncrease})` };
  }
  const gain = mean(keys.map((k) => after.dice[k]!)) - mean(keys.map((k) => before.dice[k]!));
  if (gain < rule.minGain) return { promoted: false, reason: `mean Dice gain ${gain.toFixed(3)} is below the required ${rule.minGain}` };
  return { promoted: true, reason: `mean Dice +${gain.toFixed(3)} over ${keys.length} structures, no structure worse by more than ${rule.maxStructureLoss}` };
}

/**
 * The end-to-end veto: a calibration whose held-out studies, run through the whole pipeline (its own
 * ED/ES choice), get an LVEF or LV volumes further from the reference than under what runs now, by
 * more than the rule's margins, is refused whatever its Dice on the annotated frames.
 */
export function endToEndDecision(before: EndToEndSummary, after: EndToEndSummary, rule: PromotionRule): { promoted: boolean; reason: string } {
  if (after.lvefMae - before.lvefMae > rule.maxEndToEndLvefMaeIncrease) {
    return {
      promoted: false,
      reason: `end to end (the pipeline's own ED/ES on ${after.studies} held-out ${after.studies === 1 ? 'study' : 'studies'}), LVEF MAE rises from ${before.lvefMae.toFixed(1)} to ${after.lvefMae.toFixed(1)} points (more than ${rule.maxEndToEndLvefMaeIncrease})`,
    };
  }
  if (after.volumeError - before.volumeError > rule.maxEndToEndVolumeErrorIncrease) {
    return {
      promoted: false,
      reason: `end to end (the pipeline's own ED/ES on ${after.studies} held-out ${after.studies === 1 ? 'study' : 'studies'}), the LV volume error rises from ${(100 * before.volumeError).toFixed(0)} % to ${(100 * after.volumeError).toFixed(0)} % (more than ${(100 * rule.maxEndToEndVolumeErrorIncrease).toFixed(0)} points)`,
    };
  }
  return { promoted: true, reason: `end to end LVEF MAE ${before.lvefMae.toFixed(1)} -> ${after.lvefMae.toFixed(1)} points, LV volume error ${(100 * before.volumeError).toFixed(0)} % -> ${(100 * after.volumeError).toFixed(0)} %` };
}
