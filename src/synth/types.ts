/**
 * Public types of the synthetic cine study generator: options in, DICOM files + exact truth out.
 * The truth file format (truth.json + labels.bin) is documented in src/synth/README.md.
 */
import type { SeriesInstanceUID, SOPInstanceUID, StudyInstanceUID } from '../dicom/uid.js';
import type { CoreMeasurements } from '../core/result.js';
import type { NamedTransform } from '../core/in-plane.js';

/** The five ACDC diagnostic groups (Bernard et al. 2018, IEEE TMI). */
export const SYNTH_GROUPS = ['NOR', 'DCM', 'HCM', 'MINF', 'RV'] as const;
export type SynthGroup = (typeof SYNTH_GROUPS)[number];

/** Appearance domains: same anatomy and truth, different look and storage class. */
export const SYNTH_DOMAINS = ['cine-mri', 'vendor-shifted-mri', 'echo-like', 'ct-like'] as const;
export type SynthDomain = (typeof SYNTH_DOMAINS)[number];

export interface SynthOptions {
  /** Seed of everything (anatomy, physiology, acquisition, noise, UIDs). Non-negative integer. */
  readonly seed: number;
  /** Diagnostic group; @defaultValue drawn from the seed */
  readonly group?: SynthGroup;
  /** Appearance domain; @defaultValue 'cine-mri' */
  readonly domain?: SynthDomain;
  /** Number of short-axis slices (2-30); @defaultValue drawn from the seed (8-12) */
  readonly slices?: number;
  /** Number of cardiac phases (2-60); @defaultValue drawn from the seed (20-30) */
  readonly phases?: number;
  /**
   * Heart box centre as a fraction of the field of view from the image centre, [along columns
   * (x), along rows (y)], e.g. [0.3, -0.2]; @defaultValue drawn near the centre (inside the central 60 %)
   */
  readonly heartOffset?: readonly [number, number];
  /** Field of view (mm, along the columns); @defaultValue drawn (300-380). The pixel spacing scales with it unless given. */
  readonly fovMm?: number;
  /** In-plane pixel spacing (mm); @defaultValue drawn (1.35-2.0), scaled with --fov */
  readonly pixelSpacingMm?: number;
  /**
   * Store the images transposed, flipped or rotated (src/core/in-plane.ts NAMED_TRANSFORMS), with the
   * ImageOrientationPatient and ImagePositionPatient that describe the same physical pixels (another
   * patient position or phase-encoding direction); labels follow. @defaultValue none (canonical display)
   */
  readonly flip?: NamedTransform;
  /** Which part of the ventricles the stack covers: 'full', or without its apical or basal third. @defaultValue 'full' */
  readonly coverage?: SynthCoverage;
  /** Slice thickness (mm, 2-12); @defaultValue drawn (5-10) */
  readonly sliceThicknessMm?: number;
  /** Gap between slices (mm, 0-10), with sliceThicknessMm; @defaultValue drawn (0-4) */
  readonly sliceGapMm?: number;
}

export const SYNTH_COVERAGES = ['full', 'no-apex', 'no-base'] as const;
export type SynthCoverage = (typeof SYNTH_COVERAGES)[number];

/** One Part 10 file of the study; `name` is relative to the study's DICOM folder. */
export interface SynthFile {
  readonly name: string;
  readonly bytes: Uint8Array;
}

/** Where one instance's label map lives in labels.bin. */
export interface SynthLabelEntry {
  readonly sopInstanceUID: string;
  /** File name of the instance in the DICOM folder. */
  readonly file: string;
  /** 0-based index along the stack normal (ascending position), and 0-based phase index. */
  readonly slice: number;
  readonly phase: number;
  /** Byte offset into labels.bin; the map is rows x columns uint8, row-major. */
  readonly offset: number;
  readonly rows: number;
  readonly columns: number;
}

export interface SynthMeasurements extends CoreMeasurements {
  rvsv_ml: number;
  myo_es_ml: number;
  /** Indexed to body-surface area (Mosteller). */
  lvedvi_ml_m2: number;
  lvesvi_ml_m2: number;
  rvedvi_ml_m2: number;
  rvesvi_ml_m2: number;
  lv_mass_i_g_m2: number;
  /** Largest LV wall thickness at ED measured on the truth maps (mm, per-sector definition of docs/study-features.md). */
  max_wall_thickness_ed_mm: number;
}

/** truth.json: everything known exactly about a synthetic study. */
export interface SynthTruth {
  readonly format: 'pulse-synth-truth';
  readonly version: 1;
  readonly generator: { readonly name: 'pulse synth'; readonly version: string };
  readonly seed: number;
  readonly group: SynthGroup;
  readonly domain: SynthDomain;
  readonly studyInstanceUID: StudyInstanceUID;
  readonly seriesInstanceUID: SeriesInstanceUID;
  readonly sopClassUID: string;
  /** Folder (relative to the study folder) that holds the DICOM files. */
  readonly dicomFolder: string;
  readonly grid: {
    readonly slices: number;
    readonly phases: number;
    readonly rows: number;
    readonly columns: number;
    /** [row spacing, column spacing] in mm, DICOM order. */
    readonly pixelSpacing: readonly [number, number];
    readonly sliceThicknessMm: number;
    readonly spacingBetweenSlicesMm: number;
    readonly imageOrientationPatient: readonly [number, number, number, number, number, number];
    readonly sliceNormal: readonly [number, number, number];
    /** Position of each slice centre along sliceNormal (mm), ascending with the slice index. */
    readonly slicePositionsMm: readonly number[];
    /** Trigger time per phase (ms). */
    readonly phaseTimesMs: readonly number[];
  };
  readonly patient: { readonly sizeM: number; readonly weightKg: number; readonly bsaM2: number; readonly sex: 'F' | 'M'; readonly ageYears: number };
  /** Labels: 0 background, 1 RV cavity, 2 LV myocardium, 3 LV cavity (ACDC convention: papillary muscles and trabeculae in the cavity). */
  readonly labelValues: { readonly background: 0; readonly RV: 1; readonly MYO: 2; readonly LV: 3 };
  readonly phases: { readonly ed: number; readonly es: number };
  /** Per-phase volumes from the label maps (ml), convention of docs/study-features.md. */
  readonly volumes: { readonly lv_ml: readonly number[]; readonly rv_ml: readonly number[]; readonly myo_ml: readonly number[] };
  readonly measurements: SynthMeasurements;
  /** Physiology targets and anatomy/acquisition parameters drawn for this subject (what the truth approximates). */
  readonly parameters: Readonly<Record<string, unknown>>;
  readonly labels: { readonly file: string; readonly encoding: 'uint8-row-major'; readonly instances: readonly SynthLabelEntry[] };
}

/** A generated study in memory. */
export interface SynthStudy {
  /** Suggested folder name for the study, e.g. synth-0001-DCM-cine-mri. */
  readonly name: string;
  readonly files: readonly SynthFile[];
  readonly truth: SynthTruth;
  /** labels.bin content: the concatenated label maps indexed by truth.labels.instances. */
  readonly labelsBin: Uint8Array;
  /** The same label maps keyed by SOP Instance UID (views into labelsBin). */
  readonly labels: ReadonlyMap<SOPInstanceUID, Uint8Array>;
}
