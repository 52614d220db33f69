/**
 * Findings and impression from deterministic templates. Rules (DESIGN.md, clinical ground rules):
 * every number printed is a value of the result's measurements, formatted by `formatMeasurement`
 * (the same rounding as result.json and the SR); reference-range limits and probabilities are never
 * printed (wording carries them); the diagnosis is never worded more confidently than its probability.
 * Units are written with superscripts (ml/m²) so no digit appears that is not a measurement.
 */
import type { Manifest } from '../model/manifest.js';
import { formatMeasurement } from './conventions.js';
import { flagMeasurement, populationSentence, type PatientSexCode, type RangeFlag, type RangePopulation } from './normal-ranges.js';

export interface NarrativeInput {
  /** The result's (rounded) measurements. */
  readonly measurements: Readonly<Record<string, number>>;
  readonly diagnosis: { readonly label: string; readonly probabilities: Readonly<Record<string, number>> };
  readonly groups: Manifest['diagnosis']['groups'];
  /** PatientSex, when known, selects sex-specific reference ranges. */
  readonly patientSex?: PatientSexCode;
  /** Age in years (PatientAge), when known: adult ranges only. */
  readonly patientAgeYears?: number;
  /** AHA segment name of the maximal wall thickness (measurements.lv_max_wall_thickness_mm), when placed. */
  readonly wallThicknessSegment?: string;
}

export interface NarrativeText {
  readonly findings: string;
  readonly impression: string;
  readonly disclaimer: string;
  readonly text: string;
}

export const DISCLAIMER =
  'This report was produced automatically by software (decision support, not a diagnosis) and must be reviewed and confirmed by a qualified physician.';

/** Certainty thresholds on the reported probability of the top group, highest first. */
export const CERTAINTY_LEVELS: ReadonlyArray<{ readonly atLeast: number; readonly phrase: string }> = [
  { atLeast: 0.9, phrase: 'consistent with' },
  { atLeast: 0.7, phrase: 'suggestive of' },
  { atLeast: 0.5, phrase: 'possibly representing' },
];
export const INDETERMINATE_PHRASE = 'indeterminate; differential includes';

/** The wording for a probability: 'consistent with', 'suggestive of', 'possibly representing' or the indeterminate phrase. */
export function certaintyPhrase(probability: number): string {
  return CERTAINTY_LEVELS.find((level) => probability >= level.atLeast)?.phrase ?? INDETERMINATE_PHRASE;
}

const FLAG_WORDS: Record<RangeFlag, string> = {
  NORMAL: 'within the reference range',
  LOW: 'below the reference range',
  HIGH: 'above the reference range',
};

export interface Item {
  readonly key: string;
  readonly label: string;
  readonly unit: string;
}

const LV_ITEMS: readonly Item[] = [
  { key: 'lvedv_ml', label: 'end-diastolic volume', unit: 'ml' },
  { key: 'lvesv_ml', label: 'end-systolic volume', unit: 'ml' },
  { key: 'lvsv_ml', label: 'stroke volume', unit: 'ml' },
  { key: 'lvef_pct', label: 'ejection fraction', unit: '%' },
  { key: 'lv_mass_g', label: 'myocardial mass', unit: 'g' },
  { key: 'lv_max_wall_thickness_mm', label: 'maximal end-diastolic wall thickness', unit: 'mm' },
];
const RV_ITEMS: readonly Item[] = [
  { key: 'rvedv_ml', label: 'end-diastolic volume', unit: 'ml' },
  { key: 'rvesv_ml', label: 'end-systolic volume', unit: 'ml' },
  { key: 'rvef_pct', label: 'ejection fraction', unit: '%' },
];
/** Indexed values with their full names: the narrative's list and the PDF's table both print these. */
export const INDEXED_ITEMS: readonly Item[] = [
  { key: 'lvedvi_ml_m2', label: 'LV end-diastolic volume index', unit: 'ml/m²' },
  { key: 'lvesvi_ml_m2', label: 'LV end-systolic volume index', unit: 'ml/m²' },
  { key: 'lvsvi_ml_m2', label: 'LV stroke volume index', unit: 'ml/m²' },
  { key: 'lv_mass_i_g_m2', label: 'LV mass index', unit: 'g/m²' },
  { key: 'rvedvi_ml_m2', label: 'RV end-diastolic volume index', unit: 'ml/m²' },
  { key: 'rvesvi_ml_m2', label: 'RV end-systolic volume index', unit: 'ml/m²' },
];

/** Names in the impression's list of values outside their range, in report order. */
const ABNORMAL_NAMES: Record<string, string> = {
  lvedv_ml: 'LV end-diastolic volume',
  lvedvi_ml_m2: 'LV end-diastolic volume index',
  lvesv_ml: 'LV end-systolic volume',
  lvesvi_ml_m2: 'LV end-systolic volume index',
  lvsv_ml: 'LV stroke volume',
  lvef_pct: 'LV ejection fraction',
  lv_mass_g: 'LV mass',
  lv_mass_i_g_m2: 'LV mass index',
  lv_max_wall_thickness_mm: 'maximal LV wall thickness',
  rvedv_ml: 'RV end-diastolic volume',
  rvedvi_ml_m2: 'RV end-diastolic volume index',
  rvesv_ml: 'RV end-systolic volume',
  rvef_pct: 'RV ejection fraction',
};

function measurementPhrase(item: Item, measurements: Readonly<Record<string, number>>, population: RangePopulation, segment?: string): string | undefined {
  const value = measurements[item.key];
  if (value === undefined) return undefined;
  const unit = item.unit === '%' ? ' %' : ` ${item.unit}`;
  const flag = flagMeasurement(item.key, value, population);
  // A segment name never holds digits ("mid inferoseptal"): the number rule holds.
  const where = item.key === 'lv_max_wall_thickness_mm' && segment && !/\d/.test(segment) ? ` in the ${segment} segment` : '';
  return `${item.label} ${formatMeasurement(item.key, value)}${unit}${where}${flag ? ` (${FLAG_WORDS[flag]})` : ''}`;
}

function listPhrases(items: readonly Item[], measurements: Readonly<Record<string, number>>, population: RangePopulation, segment?: string): string[] {
  return items.map((item) => measurementPhrase(item, measurements, population, segment)).filter((p): p is string => p !== undefined);
}

function groupText(groups: Manifest['diagnosis']['groups'], name: string): string {
  const group = groups.find((g) => g.name === name);
  if (!group) return name;
  // Sentence case inside the sentence ("Dilated cardiomyopathy" -> "dilated ..."), acronyms kept ("RV ...").
  const description = group.description.replace(/\.$/, '');
  // A description with digits ("type 2 ...") would put a number in the text that is not a measurement.
  if (/\d/.test(description)) return group.name;
  const lowered = /^[A-Z][a-z]/.test(description) ? description.charAt(0).toLowerCase() + description.slice(1) : description;
  return `${lowered} (${group.name})`;
}

/** Groups for an indeterminate differential: by probability, until 90 % is covered, at most three. */
function differential(input: NarrativeInput): string[] {
  const ordered = input.groups
    .map((g, i) => ({ name: g.name, p: input.diagnosis.probabilities[g.name] ?? 0, i }))
    .sort((a, b) => b.p - a.p || a.i - b.i);
  const chosen: string[] = [];
  let covered = 0;
  for (const g of ordered) {
    if (chosen.length >= 3 || (chosen.length >= 2 && covered >= 0.9)) break;
    chosen.push(g.name);
    covered += g.p;
  }
  return chosen;
}

function joinList(parts: readonly string[]): string {
  return parts.length <= 1 ? (parts[0] ?? '') : `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}`;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Builds the narrative (findings, impression, disclaimer) from the result's measurements and diagnosis. */
export function buildNarrative(input: NarrativeInput): NarrativeText {
  const { measurements } = input;
  const population: RangePopulation = {
    ...(input.patientSex ? { sex: input.patientSex } : {}),
    ...(input.patientAgeYears !== undefined ? { ageYears: input.patientAgeYears } : {}),
  };
  const sentences: string[] = [];
  const lv = listPhrases(LV_ITEMS, measurements, population, input.wallThicknessSegment);
  if (lv.length > 0) sentences.push(`Left ventricle: ${lv.join(', ')}.`);
  const rv = listPhrases(RV_ITEMS, measurements, population);
  if (rv.length > 0) sentences.push(`Right ventricle: ${rv.join(', ')}.`);
  const indexed = listPhrases(INDEXED_ITEMS, measurements, population);
  if (indexed.length > 0 && measurements.bsa_m2 !== undefined) {
    sentences.push(`Indexed to a body-surface area of ${formatMeasurement('bsa_m2', measurements.bsa_m2)} m² (Mosteller): ${indexed.join(', ')}.`);
  } else {
    sentences.push('Indexed values are not given: patient height or weight is not recorded.');
  }
  sentences.push(populationSentence(population));
  const findings = `Findings: ${sentences.join(' ')}`;

  const abnormal = Object.keys(ABNORMAL_NAMES)
    .map((key) => {
      const value = measurements[key];
      const flag = value === undefined ? undefined : flagMeasurement(key, value, population);
      return flag === 'LOW' || flag === 'HIGH' ? `${ABNORMAL_NAMES[key]} ${FLAG_WORDS[flag]}` : undefined;
    })
    .filter((p): p is string => p !== undefined);
  const probability = input.diagnosis.probabilities[input.diagnosis.label] ?? 0;
  const phrase = certaintyPhrase(probability);
  const diagnosisSentence =
    phrase === INDETERMINATE_PHRASE
      ? `Automated classification: ${phrase} ${joinList(differential(input).map((name) => groupText(input.groups, name)))}.`
      : `Automated classification: findings ${phrase} ${groupText(input.groups, input.diagnosis.label)}.`;
  const impressionParts = [abnormal.length > 0 ? `${capitalise(joinList(abnormal))}.` : undefined, diagnosisSentence].filter(
    (p): p is string => p !== undefined,
  );
  const impression = `Impression: ${impressionParts.join(' ')}`;
  return { findings, impression, disclaimer: DISCLAIMER, text: `${findings}\n${impression}\n${DISCLAIMER}` };
}
