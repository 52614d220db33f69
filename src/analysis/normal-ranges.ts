/**
 * Adult reference ranges ("normal values") for every measurement the report states, in ONE table,
 * and the LOW / NORMAL / HIGH flags derived from them. Result.json, the narrative, the SR (TID 310/312
 * properties on each NUM), the PDF and the FHIR Observations all take their ranges from here.
 *
 * Intended source: [KB-2020] Kawel-Boehm N, Hetzel SJ, Ambale-Venkatesh B, et al. Reference ranges
 * ("normal values") for cardiovascular magnetic resonance (CMR) in adults and children: 2020 update.
 * J Cardiovasc Magn Reson 2020;22:87. doi:10.1186/s12968-020-00683-3. Its Table 1 (read here) lists
 * the adult bSSFP LV studies it pools, each "papillary muscles included in LV mass" or "... in LV
 * volume"; the pooled values are in the tables after it, which could NOT be opened where this was
 * written. So no row below claims a KB-2020 table cell. What each row rests on, honestly:
 *
 * - LV rows [KB-2015 via CDT-2020]: Kawel-Boehm N, Maceira A, et al. Normal values for cardiovascular
 *   magnetic resonance in adults and children. J Cardiovasc Magn Reson 2015;17:29 (the review that
 *   KB-2020 updates), adult bSSFP means ± SD by sex as reproduced in Table 3 of Cardiovasc Diagn Ther
 *   2020;10(6):1918-1945 (PMC7758747). Limits = mean ± 2 SD. Secondary reproduction, not checked
 *   against the primary table; KB-2020 shifts these by a few ml or g at most in our reading, which we
 *   could not confirm.
 * - RV EDV index [Alfakih-2003]: Alfakih K, Plein S, Thiele H, et al. J Magn Reson Imaging
 *   2003;17(3):323-9, SSFP, abstract (read here): men 86.2 ± 14.1, women 75.2 ± 13.8 ml/m². One of
 *   the studies the KB reviews pool. Limits = mean ± 2 SD.
 * - RV EDV, ESV, EF [Maceira-2006-RV as reproduced in KB-2020 Table 9, second-hand]: men EDV 163 ± 27,
 *   women 127 ± 24 ml; ESV 57 ± 17 / 44 ± 15 ml; RVEF 66 ± 7 % (either sex). Not checked against
 *   KB-2020 itself: marked `checked: 'second-hand'`.
 * - Maximal end-diastolic LV wall thickness [HCM-2020]: Ommen SR, et al. 2020 AHA/ACC Guideline for
 *   the diagnosis and treatment of patients with hypertrophic cardiomyopathy. Circulation
 *   2020;142:e558-e631: HCM in adults is diagnosed with a maximal end-diastolic wall thickness
 *   >= 15 mm anywhere in the LV (ESC 2014 agrees). A diagnostic threshold, not a normal range: only
 *   HIGH is flagged.
 *
 * Rows without a source are absent (no flag: RV ESV index, LV stroke volume index): a wrong row is
 * worse than none. Age: KB-2020 gives age-banded tables we could not verify, so every row here is
 * for adults of any age (the lookup honours `ageMin`/`ageMax` for when banded rows are added);
 * patients under 18 get no flags, since these are adult ranges. When PatientSex is missing, the
 * sex-neutral range is the union of the men's and women's ranges (a value is flagged only when it
 * lies outside the range of both sexes), and the report says so.
 *
 * Convention caveat: ACDC-style labels (our model's) count papillary muscles as LV cavity, while the
 * KB-2015 LV rows pool studies of both conventions; LV volumes near the upper limit and LV mass near
 * the lower limit deserve that caution.
 */

export type RangeFlag = 'NORMAL' | 'LOW' | 'HIGH';
export type PatientSexCode = 'M' | 'F';

/** How far a row was checked where it was written (see the module comment). */
export type RangeCheck = 'primary' | 'secondary' | 'second-hand';

export interface ReferenceRange {
  /** Key of the result's measurements object. */
  readonly key: string;
  /** Applies to this PatientSex only; undefined = either sex. */
  readonly sex?: PatientSexCode;
  /** Applies from / up to this age in years (inclusive); undefined = any adult age. */
  readonly ageMin?: number;
  readonly ageMax?: number;
  /** Inclusive limits, in the measurement's unit; undefined = no limit on that side. */
  readonly low?: number;
  readonly high?: number;
  /** Short citation ("KB-2015 via CDT-2020 Table 3"). */
  readonly source: string;
  readonly checked: RangeCheck;
}

/** The range actually applied to one measurement of one study: what result.json, SR, PDF and FHIR carry. */
export interface AppliedRange {
  readonly key: string;
  readonly flag: RangeFlag;
  readonly low?: number;
  readonly high?: number;
  /** 'M' / 'F' when a sex-specific row was used; 'any' for a sex-independent row or the union fallback. */
  readonly sex: PatientSexCode | 'any';
  /** True when PatientSex was unknown and the men's and women's rows were merged. */
  readonly sexNeutralFallback: boolean;
  readonly source: string;
  readonly checked: RangeCheck;
}

const KB2015 = 'Kawel-Boehm 2015 (JCMR 17:29) adult bSSFP, as reproduced in Cardiovasc Diagn Ther 2020 Table 3; mean +/- 2 SD';
const ALFAKIH = 'Alfakih 2003 (JMRI 17:323) SSFP, abstract; mean +/- 2 SD';
const MACEIRA_RV = 'Maceira 2006 RV (Eur Heart J 27:2879) as reproduced in Kawel-Boehm 2020 Table 9 (second-hand); mean +/- 2 SD';
const HCM2020 = '2020 AHA/ACC HCM guideline (Circulation 142:e558): maximal end-diastolic wall thickness of 15 mm or more';

/** mean ± 2 SD, rounded to one decimal (the precision the report prints). */
function meanSd(mean: number, sd: number): { low: number; high: number } {
  return { low: Math.round((mean - 2 * sd) * 10) / 10, high: Math.round((mean + 2 * sd) * 10) / 10 };
}

function row(key: string, sex: PatientSexCode | undefined, limits: { low?: number; high?: number }, source: string, checked: RangeCheck): ReferenceRange {
  return { key, ...(sex ? { sex } : {}), ...limits, source, checked };
}

/** Upper limit of the wall-thickness criterion: values of 15.0 mm or more are HIGH (reported to 0.1 mm). */
export const MAX_WALL_THICKNESS_HCM_MM = 15;

export const REFERENCE_RANGES: readonly ReferenceRange[] = [
  // LV, men / women [KB-2015 via CDT-2020].
  row('lvedv_ml', 'M', meanSd(160, 27), KB2015, 'secondary'),
  row('lvedv_ml', 'F', meanSd(132, 23), KB2015, 'secondary'),
  row('lvedvi_ml_m2', 'M', meanSd(81, 12), KB2015, 'secondary'),
  row('lvedvi_ml_m2', 'F', meanSd(76, 10), KB2015, 'secondary'),
  row('lvesv_ml', 'M', meanSd(54, 14), KB2015, 'secondary'),
  row('lvesv_ml', 'F', meanSd(44, 11), KB2015, 'secondary'),
  row('lvesvi_ml_m2', 'M', meanSd(26, 6), KB2015, 'secondary'),
  row('lvesvi_ml_m2', 'F', meanSd(24, 5), KB2015, 'secondary'),
  row('lvsv_ml', 'M', meanSd(108, 18), KB2015, 'secondary'),
  row('lvsv_ml', 'F', meanSd(87, 15), KB2015, 'secondary'),
  row('lvef_pct', 'M', meanSd(67, 5), KB2015, 'secondary'),
  row('lvef_pct', 'F', meanSd(67, 5), KB2015, 'secondary'),
  row('lv_mass_g', 'M', meanSd(134, 21), KB2015, 'secondary'),
  row('lv_mass_g', 'F', meanSd(98, 21), KB2015, 'secondary'),
  row('lv_mass_i_g_m2', 'M', meanSd(67, 9), KB2015, 'secondary'),
  row('lv_mass_i_g_m2', 'F', meanSd(61, 10), KB2015, 'secondary'),
  // RV.
  row('rvedv_ml', 'M', meanSd(163, 27), MACEIRA_RV, 'second-hand'),
  row('rvedv_ml', 'F', meanSd(127, 24), MACEIRA_RV, 'second-hand'),
  row('rvesv_ml', 'M', meanSd(57, 17), MACEIRA_RV, 'second-hand'),
  row('rvesv_ml', 'F', meanSd(44, 15), MACEIRA_RV, 'second-hand'),
  row('rvef_pct', undefined, meanSd(66, 7), MACEIRA_RV, 'second-hand'),
  row('rvedvi_ml_m2', 'M', meanSd(86.2, 14.1), ALFAKIH, 'primary'),
  row('rvedvi_ml_m2', 'F', meanSd(75.2, 13.8), ALFAKIH, 'primary'),
  // Wall thickness: HIGH from 15 mm (the limit is exclusive: 14.9 is the largest normal value at 0.1 mm).
  row('lv_max_wall_thickness_mm', undefined, { high: MAX_WALL_THICKNESS_HCM_MM - 0.1 }, HCM2020, 'primary'),
];

export const REFERENCE_SOURCE =
  'Adult CMR reference ranges: Kawel-Boehm 2015 (as reproduced), Alfakih 2003, Maceira 2006 via Kawel-Boehm 2020; HCM wall thickness per the 2020 AHA/ACC guideline';

/** Who the ranges are for, in words without digits (the narrative prints only measurement numbers). */
export interface RangePopulation {
  readonly sex?: PatientSexCode;
  /** Age in years, when PatientAge is known. */
  readonly ageYears?: number;
}

export const ADULT_AGE_YEARS = 18;

function ageMatches(range: ReferenceRange, age: number | undefined): boolean {
  if (age === undefined) return range.ageMin === undefined && range.ageMax === undefined;
  return (range.ageMin === undefined || age >= range.ageMin) && (range.ageMax === undefined || age <= range.ageMax);
}

/**
 * The range applied to a measurement: the sex- (and age-) specific row when PatientSex is known; a
 * sex-independent row; else, with PatientSex unknown, the union of the men's and women's rows.
 * Undefined when the table has no row, or the patient is known to be a child (adult ranges only).
 */
export function referenceRange(
  key: string,
  population: RangePopulation = {},
  table: readonly ReferenceRange[] = REFERENCE_RANGES,
): Omit<AppliedRange, 'flag'> | undefined {
  const { sex, ageYears } = population;
  if (ageYears !== undefined && ageYears < ADULT_AGE_YEARS) return undefined;
  const rows = table.filter((r) => r.key === key);
  // Age-banded rows win over any-age rows when the age is known.
  const pick = (candidates: ReferenceRange[]): ReferenceRange | undefined =>
    candidates.find((r) => ageYears !== undefined && (r.ageMin !== undefined || r.ageMax !== undefined) && ageMatches(r, ageYears)) ??
    candidates.find((r) => r.ageMin === undefined && r.ageMax === undefined);
  const applied = (r: ReferenceRange, fallback: boolean): Omit<AppliedRange, 'flag'> => ({
    key,
    ...(r.low !== undefined ? { low: r.low } : {}),
    ...(r.high !== undefined ? { high: r.high } : {}),
    sex: r.sex ?? 'any',
    sexNeutralFallback: fallback,
    source: r.source,
    checked: r.checked,
  });
  if (sex !== undefined) {
    const specific = pick(rows.filter((r) => r.sex === sex));
    if (specific) return applied(specific, false);
  }
  const neutral = pick(rows.filter((r) => r.sex === undefined));
  if (neutral) return applied(neutral, false);
  if (sex !== undefined) return undefined;
  const men = pick(rows.filter((r) => r.sex === 'M'));
  const women = pick(rows.filter((r) => r.sex === 'F'));
  if (!men || !women) return undefined;
  const low = men.low === undefined || women.low === undefined ? undefined : Math.min(men.low, women.low);
  const high = men.high === undefined || women.high === undefined ? undefined : Math.max(men.high, women.high);
  return {
    key,
    ...(low !== undefined ? { low } : {}),
    ...(high !== undefined ? { high } : {}),
    sex: 'any',
    sexNeutralFallback: true,
    source: men.source === women.source ? men.source : `${men.source}; ${women.source}`,
    checked: men.checked === 'second-hand' || women.checked === 'second-hand' ? 'second-hand' : men.checked === 'secondary' || women.checked === 'secondary' ? 'secondary' : 'primary',
  };
}

/** LOW / NORMAL / HIGH of a value (rounded, as reported) against limits; undefined limits never flag. */
export function flagAgainst(value: number, low: number | undefined, high: number | undefined): RangeFlag {
  return low !== undefined && value < low ? 'LOW' : high !== undefined && value > high ? 'HIGH' : 'NORMAL';
}

/** The applied range with its flag; undefined when no range applies. */
export function applyRange(key: string, value: number, population: RangePopulation = {}, table: readonly ReferenceRange[] = REFERENCE_RANGES): AppliedRange | undefined {
  const range = referenceRange(key, population, table);
  return range ? { ...range, flag: flagAgainst(value, range.low, range.high) } : undefined;
}

/** Flags a (rounded, as reported) value against its range; undefined when no range applies. */
export function flagMeasurement(key: string, value: number, population: RangePopulation = {}, table: readonly ReferenceRange[] = REFERENCE_RANGES): RangeFlag | undefined {
  return applyRange(key, value, population, table)?.flag;
}

/** DICOM PatientSex ('M', 'F', 'O', empty) -> a code the table knows, or undefined. */
export function patientSexCode(value: unknown): PatientSexCode | undefined {
  const text = typeof value === 'string' ? value.trim().toUpperCase() : '';
  return text === 'M' || text === 'F' ? text : undefined;
}

/** DICOM PatientAge ('045Y', '006M', '010W', '003D') -> years, or undefined when absent or malformed. */
export function patientAgeYears(value: unknown): number | undefined {
  const match = typeof value === 'string' ? /^(\d{3})([DWMY])$/.exec(value.trim().toUpperCase()) : null;
  if (!match) return undefined;
  const n = Number(match[1]);
  const perYear = { D: 365.25, W: 52.1775, M: 12, Y: 1 }[match[2] as 'D' | 'W' | 'M' | 'Y'];
  return n / perYear;
}

/** Applied range and flag for every measurement the table covers (result.json's `reference_ranges`). */
export function applyRanges(measurements: Readonly<Record<string, number>>, population: RangePopulation = {}): Record<string, AppliedRange> {
  const out: Record<string, AppliedRange> = {};
  for (const [key, value] of Object.entries(measurements)) {
    const applied = applyRange(key, value, population);
    if (applied) out[key] = applied;
  }
  return out;
}

/** NORMAL/LOW/HIGH for every measurement the table covers. */
export function measurementFlags(measurements: Readonly<Record<string, number>>, population: RangePopulation = {}): Record<string, RangeFlag> {
  return Object.fromEntries(Object.entries(applyRanges(measurements, population)).map(([k, r]) => [k, r.flag]));
}

/** One sentence (no digits) naming the population whose ranges were used, and any fallback. */
export function populationSentence(population: RangePopulation): string {
  if (population.ageYears !== undefined && population.ageYears < ADULT_AGE_YEARS) {
    return 'Values are not flagged: the reference ranges are for adults and the patient is younger.';
  }
  const who = population.sex === 'M' ? 'men' : population.sex === 'F' ? 'women' : undefined;
  return who
    ? `Flags use published adult reference ranges for ${who}.`
    : 'Flags use published adult reference ranges for either sex (PatientSex is not recorded: a value is flagged only when it lies outside the range of both men and women).';
}
