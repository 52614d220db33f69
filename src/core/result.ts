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

/** The reference range applied to one measurement and its flag (src/analysis/normal-ranges.ts). */
export interface ResultReferenceRange {
  flag: 'LOW' | 'NORMAL' | 'HIGH';
  /** Inclusive limits in the measurement's unit; absent = no limit on that side. */
  low?: number;
  high?: number;
  /** UCUM unit of the measurement and limits. */
  unit: string;
  /** 'M' / 'F' for a sex-specific range, 'any' for a sex-independent one or the union fallback. */
  sex: 'M' | 'F' | 'any';
  /** True when PatientSex was unknown and the men's and women's ranges were merged. */
  sex_neutral_fallback: boolean;
  /** Short citation of the range. */
  source: string;
  /** How far the row was checked against its source (normal-ranges.ts). */
  checked: 'primary' | 'secondary' | 'second-hand';
}

export interface ResultQualityControl {
  status: 'pass' | 'review' | 'fail';
  /** Why, most severe first; no patient data. */
  reasons: string[];
  /** Out-of-distribution score (median Mahalanobis distance of the image embeddings); null without a reference. */
  ood: number | null;
  /**
   * Only when test-time flips ran (model.tta 'flips'): per segment key, the share of the pixels any
   * transform labels with the structure on which the transforms disagree (docs/quality-control.md).
   */
  uncertainty?: { method: 'test-time-flips'; transforms: number; disagreement: Record<string, number | null> };
}

export interface StudyResult {
  studyInstanceUID: string;
  seriesInstanceUID: string;
  grid: { slices: number; phases: number };
  phases: { ed: number; es: number };
  measurements: ResultMeasurements;
  diagnosis: { label: string; probabilities: Record<string, number> };
  narrative: string;
  /** Range and flag per measurement that has a reference range (absent in results written before them). */
  reference_ranges?: Record<string, ResultReferenceRange>;
  /** Whose ranges were used: PatientSex when known, whether the patient is an adult (null = unknown), in words. */
  reference_population?: { sex: 'M' | 'F' | null; adult: boolean | null; note: string };
  /** Maximal end-diastolic LV wall thickness (also measurements.lv_max_wall_thickness_mm) and where it lies. */
  wall_thickness?: { max_mm: number; aha_segment: number | null; segment_name: string | null; slice: number };
  /**
   * Quality control of this result (docs/quality-control.md). fail: the numbers are kept here for
   * inspection but stated nowhere as findings (SR, metadata, urgency); review: findings with a caution.
   * Every result the pipeline writes has it; only results archived before it existed lack it.
   */
  qc?: ResultQualityControl;
  /**
   * How the cine stack was chosen: the reader's decision for every series of the study, chosen first
   * (repeats, mixed views and other stacks dropped, each with its reason; no patient data).
   */
  series_decisions?: Array<{ seriesInstanceUID: string; chosen: boolean; reason: string }>;
  model: ModelIdentity;
  /**
   * Wall time per stage: read, preprocess, inference, postprocess, analysis, dicom, total. The model
   * runs on a thread of its own while the pipeline prepares and post-processes the neighbouring
   * batches, so `inference` is the time the pipeline waited for it, not the model's whole time.
   */
  timings_ms: Record<string, number>;
}

/**
 * What people look at besides the numbers (the dashboard): the cavity volume curves over the cardiac
 * cycle and the mid-ventricular slice at ED and ES with the contours, as PNG.
 */
export interface StudyViews {
  /** Cavity volume per phase (ml), by segment key ('lv', 'rv'), in phase order. */
  volumeCurves: Record<string, number[]>;
  /** The slice drawn (mid-ventricular) and its ED and ES images with contours (PNG bytes). */
  thumbnails?: { slice: number; ed: Uint8Array; es: Uint8Array };
}

/** What one processed study yields: the result plus the DICOM objects to store (Part 10 bytes). */
export interface StudyOutputs {
  result: StudyResult;
  /** The SEG; absent only when quality control failed and the SEG is configured off for failures (segOnQcFail). */
  seg?: Uint8Array;
  sr: Uint8Array;
  overlay?: Uint8Array;
  /**
   * Viewer phase series, when asked for (dicom/phase-series.ts): per labelled phase, the copies of its
   * images and the SEG that references them, in storing order.
   */
  viewerPhaseSeries?: Uint8Array[];
  /** Why the viewer phase series were asked for but not written (a multi-frame or colour source, ...). */
  viewerPhaseSeriesSkipped?: string;
  /** The PDF report (report.pdf), when asked for. */
  pdf?: Uint8Array;
  /** The same PDF as a DICOM Encapsulated PDF (pdf.dcm, series 9004), when asked for. */
  pdfDicom?: Uint8Array;
  /** FHIR R4 transaction Bundle (DiagnosticReport + Observations + Device), when asked for: diagnostic-report.json. */
  fhir?: { resourceType: 'Bundle' } & Record<string, unknown>;
  /**
   * Values copied from the source that were changed to fit their VR, as 'PatientBirthDate emptied
   * (invalid DA)': keyword and kind, never the value. Empty when nothing was changed.
   */
  sanitised?: readonly string[];
  /** Curves and thumbnails for the dashboard, when the processor makes them. */
  views?: StudyViews;
}
