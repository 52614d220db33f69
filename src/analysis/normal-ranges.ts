/**
 * Reference ranges for the NORMAL/LOW/HIGH flags of the narrative, from ONE source:
 *
 * [PULSE] The PULSE authors' report templates (PULSE, arXiv:2512.03848; revised version IEEE JBHI
 * 2026): LVEF 50-80 %, LV end-diastolic volume 50-200 ml, adults, sex-independent.
 *
 * Why this source: it is the one the model's authors flag their reports with, and it is stated
 * unambiguously. Kawel-Boehm et al. (JCMR 2020;22:87) give richer, sex-specific SSFP tables, but their
 * values depend on whether papillary muscles count as cavity or mass and on age band; we could not
 * check every cell here, and a wrong cell is worse than no flag. The table keeps a `sex` column so a
 * sex-specific source can replace this one without touching the narrative code.
 *
 * Measurements without a row get no flag. Range limits are never printed (they are not measurements).
 */

export type RangeFlag = 'NORMAL' | 'LOW' | 'HIGH';
export type PatientSexCode = 'M' | 'F';

export interface ReferenceRange {
  /** Key of the result's measurements object. */
  readonly key: string;
  /** Applies to this PatientSex only; undefined = either sex. */
  readonly sex?: PatientSexCode;
  /** Inclusive limits, in the measurement's unit. */
  readonly low: number;
  readonly high: number;
}

export const REFERENCE_SOURCE = 'PULSE authors\' report ranges (arXiv:2512.03848; IEEE JBHI 2026)';

export const REFERENCE_RANGES: readonly ReferenceRange[] = [
  { key: 'lvef_pct', low: 50, high: 80 },
  { key: 'lvedv_ml', low: 50, high: 200 },
];

/** The row for a measurement: a sex-specific one when PatientSex is known and the table has it, else the sex-independent one. */
export function referenceRange(key: string, sex?: PatientSexCode, table: readonly ReferenceRange[] = REFERENCE_RANGES): ReferenceRange | undefined {
  return (sex !== undefined ? table.find((r) => r.key === key && r.sex === sex) : undefined) ?? table.find((r) => r.key === key && r.sex === undefined);
}

/** Flags a (rounded, as reported) value against its range; undefined when the table has no row. */
export function flagMeasurement(key: string, value: number, sex?: PatientSexCode, table: readonly ReferenceRange[] = REFERENCE_RANGES): RangeFlag | undefined {
  const range = referenceRange(key, sex, table);
  if (!range) return undefined;
  return value < range.low ? 'LOW' : value > range.high ? 'HIGH' : 'NORMAL';
}

/** DICOM PatientSex ('M', 'F', 'O', empty) -> a code the table knows, or undefined. */
export function patientSexCode(value: unknown): PatientSexCode | undefined {
  const text = typeof value === 'string' ? value.trim().toUpperCase() : '';
  return text === 'M' || text === 'F' ? text : undefined;
}

/** NORMAL/LOW/HIGH for every measurement the table covers (the SR may carry them as interpretations). */
export function measurementFlags(measurements: Readonly<Record<string, number>>, sex?: PatientSexCode): Record<string, RangeFlag> {
  const flags: Record<string, RangeFlag> = {};
  for (const [key, value] of Object.entries(measurements)) {
    const flag = flagMeasurement(key, value, sex);
    if (flag) flags[key] = flag;
  }
  return flags;
}
