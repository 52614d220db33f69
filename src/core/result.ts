/**
 * The result of one study, exactly as `pulse infer` writes result.json (the contract in DESIGN.md).
 * Keys are snake_case because they are a file format read by other tools. Every layer that reads or
 * builds a result (analysis, the DICOM writers, the pipeline, the service) takes these types from here.
 */
import type { ModelIdentity } from './model-identity.js';

/** The measurements every result has (DESIGN.md's result.json contract). */
export interface CoreMeasurements {
  lvedv_ml: number;
  lvesv_ml: number;
  lvsv_ml: number;
  lvef_pct: number;
  lv_mass_g: number;
  rvedv_ml: number;
  rvesv_ml: number;
  rvef_pct: number;
}

/** The core measurements, plus indexed values present only when PatientSize and PatientWeight are known. */
export type ResultMeasurements = CoreMeasurements & { [indexed: string]: number };

export interface StudyResult {
  studyInstanceUID: string;
  seriesInstanceUID: string;
  grid: { slices: number; phases: number };
  phases: { ed: number; es: number };
  measurements: ResultMeasurements;
  diagnosis: { label: string; probabilities: Record<string, number> };
  narrative: string;
  model: ModelIdentity;
  timings_ms: Record<string, number>;
}

/** What one processed study yields: the result plus the DICOM objects to store (Part 10 bytes). */
export interface StudyOutputs {
  result: StudyResult;
  seg: Uint8Array;
  sr: Uint8Array;
  overlay?: Uint8Array;
  /**
   * Values copied from the source that were changed to fit their VR, as 'PatientBirthDate emptied
   * (invalid DA)': keyword and kind, never the value. Empty when nothing was changed.
   */
  sanitised?: readonly string[];
}
