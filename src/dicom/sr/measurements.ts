/**
 * Which concept and unit each result.json measurement is written with (codes.ts lists the tables).
 * Indexed values have no code of their own in the CIDs we use: they reuse the base concept with the
 * indexed unit (ml/m2, g/m2) and an Equivalent Meaning of Concept Name (TID 300 row 16), except the
 * stroke volume index, which has one (Stroke Index, CID 12239).
 */
import * as codes from '../codes.js';
import type { CodedConcept } from '../codes.js';

export interface MeasurementSpec {
  /** result.json measurements key. */
  readonly key: string;
  readonly concept: CodedConcept;
  readonly unit: CodedConcept;
  /** Written as a Finding Site concept modifier when the concept does not name the ventricle. */
  readonly findingSite?: CodedConcept;
  /** Written as Equivalent Meaning of Concept Name when the concept alone would be ambiguous. */
  readonly equivalentMeaning?: string;
  /** Label used in tracking identifiers and the overlay. */
  readonly label: string;
}

function ejectionFraction(modality: string, side: 'LV' | 'RV'): Pick<MeasurementSpec, 'concept' | 'findingSite'> {
  if (modality === 'MR') return { concept: side === 'LV' ? codes.LVEF_MR : codes.RVEF_MR };
  if (modality === 'CT') return { concept: side === 'LV' ? codes.LVEF_CT : codes.RVEF_CT };
  return { concept: codes.CARDIAC_EJECTION_FRACTION, findingSite: side === 'LV' ? codes.LEFT_VENTRICLE : codes.RIGHT_VENTRICLE };
}

/** The measurements a report can hold, in report order, for a study of this modality. */
export function measurementSpecs(modality: string): readonly MeasurementSpec[] {
  return [
    { key: 'lvedv_ml', label: 'LV EDV', concept: codes.LV_ED_VOLUME, unit: codes.UNIT_ML },
    { key: 'lvesv_ml', label: 'LV ESV', concept: codes.LV_ES_VOLUME, unit: codes.UNIT_ML },
    { key: 'lvsv_ml', label: 'LV SV', concept: codes.STROKE_VOLUME, unit: codes.UNIT_ML, findingSite: codes.LEFT_VENTRICLE },
    { key: 'lvef_pct', label: 'LVEF', ...ejectionFraction(modality, 'LV'), unit: codes.UNIT_PERCENT },
    { key: 'lv_mass_g', label: 'LV mass', concept: codes.LV_MASS, unit: codes.UNIT_G },
    { key: 'rvedv_ml', label: 'RV EDV', concept: codes.RV_ED_VOLUME, unit: codes.UNIT_ML },
    { key: 'rvesv_ml', label: 'RV ESV', concept: codes.RV_ES_VOLUME, unit: codes.UNIT_ML },
    { key: 'rvef_pct', label: 'RVEF', ...ejectionFraction(modality, 'RV'), unit: codes.UNIT_PERCENT },
    { key: 'lvedvi_ml_m2', label: 'LV EDVi', concept: codes.LV_ED_VOLUME, unit: codes.UNIT_ML_PER_M2, equivalentMeaning: 'Left ventricular end-diastolic volume indexed to body-surface area' },
    { key: 'lvesvi_ml_m2', label: 'LV ESVi', concept: codes.LV_ES_VOLUME, unit: codes.UNIT_ML_PER_M2, equivalentMeaning: 'Left ventricular end-systolic volume indexed to body-surface area' },
    { key: 'lvsvi_ml_m2', label: 'LV SVi', concept: codes.STROKE_INDEX, unit: codes.UNIT_ML_PER_M2, findingSite: codes.LEFT_VENTRICLE },
    { key: 'lv_mass_i_g_m2', label: 'LV mass index', concept: codes.LV_MASS, unit: codes.UNIT_G_PER_M2, equivalentMeaning: 'Left ventricular mass indexed to body-surface area' },
    { key: 'rvedvi_ml_m2', label: 'RV EDVi', concept: codes.RV_ED_VOLUME, unit: codes.UNIT_ML_PER_M2, equivalentMeaning: 'Right ventricular end-diastolic volume indexed to body-surface area' },
    { key: 'rvesvi_ml_m2', label: 'RV ESVi', concept: codes.RV_ES_VOLUME, unit: codes.UNIT_ML_PER_M2, equivalentMeaning: 'Right ventricular end-systolic volume indexed to body-surface area' },
  ];
}

/** Volumetric ROI groups (TID 1411): which segment, at which phase, carries which measurement. */
export const VOLUMETRIC_GROUPS: ReadonlyArray<{ readonly segmentKey: string; readonly phase: 'ed' | 'es'; readonly measurementKeys: readonly string[]; readonly site: CodedConcept; readonly label: string }> = [
  { segmentKey: 'lv', phase: 'ed', measurementKeys: ['lvedv_ml'], site: codes.LEFT_VENTRICLE, label: 'LV cavity at ED' },
  { segmentKey: 'lv', phase: 'es', measurementKeys: ['lvesv_ml'], site: codes.LEFT_VENTRICLE, label: 'LV cavity at ES' },
  { segmentKey: 'myo', phase: 'ed', measurementKeys: ['lv_mass_g'], site: codes.LEFT_VENTRICLE, label: 'LV myocardium at ED' },
  { segmentKey: 'rv', phase: 'ed', measurementKeys: ['rvedv_ml'], site: codes.RIGHT_VENTRICLE, label: 'RV cavity at ED' },
  { segmentKey: 'rv', phase: 'es', measurementKeys: ['rvesv_ml'], site: codes.RIGHT_VENTRICLE, label: 'RV cavity at ES' },
];
