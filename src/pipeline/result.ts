/**
 * The result of one study, exactly as `pulse infer` writes result.json (the contract in DESIGN.md).
 * Keys are snake_case because they are a file format read by other tools.
 */
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

export interface StudyResult {
  studyInstanceUID: string;
  seriesInstanceUID: string;
  grid: { slices: number; phases: number };
  phases: { ed: number; es: number };
  /** The core measurements, plus indexed values present only when PatientSize and PatientWeight are known. */
  measurements: CoreMeasurements & { [indexed: string]: number };
  diagnosis: { label: string; probabilities: Record<string, number> };
  narrative: string;
  model: { name: string; version: string; calibration: string | null };
  timings_ms: Record<string, number>;
}

/** What one processed study yields: the result plus the DICOM objects to store (Part 10 bytes). */
export interface StudyOutputs {
  result: StudyResult;
  seg: Uint8Array;
  sr: Uint8Array;
  overlay?: Uint8Array;
}
