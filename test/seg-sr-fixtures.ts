/**
 * Test inputs for the DICOM writers, built here by hand: a small oblique, non-square cine grid of
 * single-frame MR source images with label maps we draw, and a StudyResult with made-up numbers.
 */
import type { SegmentDefinition } from '../src/model/manifest.js';
import type { StudyResult } from '../src/core/result.js';
import { applyRanges, MEASUREMENT_UNITS } from '../src/analysis/index.js';
import type { CineGrid, LabelMap, SourceImage, StudyContext, Vec3 } from '../src/study/types.js';
import { deterministicUid, type FrameOfReferenceUID, type SeriesInstanceUID, type SOPClassUID, type SOPInstanceUID, type StudyInstanceUID } from '../src/dicom/uid.js';
import { segmentationReference, segmentationUids, type BuiltSegmentation, type SegmentationInput } from '../src/dicom/seg/sop.js';
import { measurementReportUids, type MeasurementReportInput } from '../src/dicom/sr/sop.js';

export const MR_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.4' as SOPClassUID;
export const RV = 1;
export const MYO = 2;
export const LV = 3;

export const SEGMENTS: SegmentDefinition[] = [
  { labelValue: RV, name: 'Right ventricle cavity', key: 'rv', category: { value: '91723000', scheme: 'SCT', meaning: 'Anatomical Structure' }, type: { value: '53085002', scheme: 'SCT', meaning: 'Right Ventricle' }, color: [0, 0, 255] },
  { labelValue: MYO, name: 'Left ventricle myocardium', key: 'myo', category: { value: '91723000', scheme: 'SCT', meaning: 'Anatomical Structure' }, type: { value: '87878005', scheme: 'SCT', meaning: 'Left Ventricle' }, color: [0, 255, 0] },
  { labelValue: LV, name: 'Left ventricle cavity', key: 'lv', category: { value: '91723000', scheme: 'SCT', meaning: 'Anatomical Structure' }, type: { value: '87878005', scheme: 'SCT', meaning: 'Left Ventricle' }, color: [255, 0, 0] },
];

export const DIAGNOSIS_GROUPS = [
  { name: 'NOR', code: { value: '17621005', scheme: 'SCT', meaning: 'Normal' } },
  { name: 'DCM', code: { value: '399020009', scheme: 'SCT', meaning: 'Dilated cardiomyopathy' } },
];

const normalize = (v: readonly number[]): Vec3 => {
  const n = Math.hypot(v[0]!, v[1]!, v[2]!);
  return [v[0]! / n, v[1]! / n, v[2]! / n];
};
const cross = (a: Vec3, b: Vec3): Vec3 => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];

export interface Fixture {
  readonly context: StudyContext;
  readonly grid: CineGrid;
  readonly labelMaps: LabelMap[][];
}

/**
 * An oblique stack: `rows` x `columns` (non-square, rows*columns not a multiple of 8 by default),
 * `slices` slices 8 mm apart, `phases` phases. The LV disc shrinks towards the middle phase; the
 * last slice at the last phase is left empty on purpose (its frames must be left out of the SEG).
 */
export function buildFixture(options: { rows?: number; columns?: number; slices?: number; phases?: number; seed?: string } = {}): Fixture {
  const rows = options.rows ?? 13;
  const columns = options.columns ?? 19;
  const slices = options.slices ?? 3;
  const phases = options.phases ?? 4;
  const seed = options.seed ?? 'fixture';
  const studyUID = deterministicUid<'StudyInstanceUID'>(seed, 'study') as StudyInstanceUID;
  const seriesUID = deterministicUid<'SeriesInstanceUID'>(seed, 'series') as SeriesInstanceUID;
  const forUID = deterministicUid<'FrameOfReferenceUID'>(seed, 'for') as FrameOfReferenceUID;
  const rowDir = normalize([1, 0.5, 0.2]);
  const t: Vec3 = [0, 0, 1];
  const d = t[0] * rowDir[0] + t[1] * rowDir[1] + t[2] * rowDir[2];
  const colDir = normalize([t[0] - d * rowDir[0], t[1] - d * rowDir[1], t[2] - d * rowDir[2]]);
  const normal = cross(rowDir, colDir);
  const origin: Vec3 = [-12.5, 30.25, 4.75];
  const spacingMm = 8;
  const images: SourceImage[][] = [];
  const labelMaps: LabelMap[][] = [];
  for (let s = 0; s < slices; s++) {
    const rowImages: SourceImage[] = [];
    const rowMaps: LabelMap[] = [];
    const ipp: Vec3 = [origin[0] + s * spacingMm * normal[0], origin[1] + s * spacingMm * normal[1], origin[2] + s * spacingMm * normal[2]];
    for (let p = 0; p < phases; p++) {
      const image: SourceImage = {
        sopClassUID: MR_IMAGE_STORAGE,
        sopInstanceUID: deterministicUid<'SOPInstanceUID'>(seed, 'image', s, p) as SOPInstanceUID,
        seriesInstanceUID: seriesUID,
        plane: {
          rows,
          columns,
          pixelSpacing: [1.5, 1.25],
          imagePositionPatient: [Math.round(ipp[0] * 1e4) / 1e4, Math.round(ipp[1] * 1e4) / 1e4, Math.round(ipp[2] * 1e4) / 1e4],
          imageOrientationPatient: [rowDir[0], rowDir[1], rowDir[2], colDir[0], colDir[1], colDir[2]].map((v) => Math.round(v * 1e6) / 1e6) as unknown as readonly [number, number, number, number, number, number],
          sliceThickness: 6,
        },
        triggerTimeMs: p * 40,
        pixels: new Float32Array(rows * columns),
      };
      const labels = new Uint8Array(rows * columns);
      const empty = s === slices - 1 && p === phases - 1;
      if (!empty) drawHeart(labels, rows, columns, s, p, phases);
      rowImages.push(image);
      rowMaps.push({ image, labels });
    }
    images.push(rowImages);
    labelMaps.push(rowMaps);
  }
  const grid: CineGrid = {
    slices,
    phases,
    images,
    sliceNormal: normal,
    slicePositionsMm: images.map((row) => row[0]!.plane.imagePositionPatient.reduce((sum, v, i) => sum + v * normal[i]!, 0)),
    phaseTimesMs: Array.from({ length: phases }, (_, p) => p * 40),
  };
  const context: StudyContext = {
    studyInstanceUID: studyUID,
    seriesInstanceUID: seriesUID,
    frameOfReferenceUID: forUID,
    modality: 'MR',
    patientStudyAttributes: {
      PatientName: 'Test^Fixture',
      PatientID: 'FIXTURE-1',
      PatientBirthDate: '19700101',
      PatientSex: 'O',
      StudyDate: '20240102',
      StudyTime: '101500',
      StudyID: '1',
      AccessionNumber: 'ACC1',
      ReferringPhysicianName: '',
      StudyDescription: 'Cardiac cine fixture',
    },
  };
  return { context, grid, labelMaps };
}

/** LV disc (radius shrinking to mid-cycle), a myocardial ring around it and an RV blob to its left. */
function drawHeart(labels: Uint8Array, rows: number, columns: number, slice: number, phase: number, phases: number): void {
  const cr = rows / 2 + 0.3 * slice;
  const cc = columns / 2 + 1;
  const contraction = Math.abs(phase - phases / 2) / (phases / 2); // 1 at ED-like ends, 0 mid
  const lvRadius = 2 + 2 * contraction;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) {
      const dist = Math.hypot(r - cr, c - cc);
      if (dist <= lvRadius) labels[r * columns + c] = LV;
      else if (dist <= lvRadius + 1.6) labels[r * columns + c] = MYO;
      else if (Math.hypot(r - cr, c - (cc - lvRadius - 4)) <= 2.2) labels[r * columns + c] = RV;
    }
  }
}

/** result.json's reference_ranges for these measurements (women's ranges), as the pipeline writes them. */
export function fixtureRanges(measurements: Readonly<Record<string, number>>): NonNullable<StudyResult['reference_ranges']> {
  const out: NonNullable<StudyResult['reference_ranges']> = {};
  for (const [key, r] of Object.entries(applyRanges(measurements, { sex: 'F' }))) {
    out[key] = {
      flag: r.flag,
      ...(r.low !== undefined ? { low: r.low } : {}),
      ...(r.high !== undefined ? { high: r.high } : {}),
      unit: MEASUREMENT_UNITS[key] ?? '',
      sex: r.sex,
      sex_neutral_fallback: r.sexNeutralFallback,
      source: r.source,
      checked: r.checked,
    };
  }
  return out;
}

export function fixtureResult(fixture: Fixture, overrides: Partial<StudyResult['measurements']> = {}): StudyResult {
  const measurements = {
    lvedv_ml: 152.3,
    lvesv_ml: 61.8,
    lvsv_ml: 90.5,
    lvef_pct: 59.4,
    lv_mass_g: 118.2,
    rvedv_ml: 160.1,
    rvesv_ml: 75.4,
    rvef_pct: 52.9,
    lvedvi_ml_m2: 80.2,
    lv_mass_i_g_m2: 62.2,
    ...overrides,
  } as StudyResult['measurements'];
  return {
    studyInstanceUID: fixture.context.studyInstanceUID,
    seriesInstanceUID: fixture.context.seriesInstanceUID,
    grid: { slices: fixture.grid.slices, phases: fixture.grid.phases },
    phases: { ed: 0, es: 2 },
    measurements,
    diagnosis: { label: 'NOR', probabilities: { NOR: 0.87, DCM: 0.13 } },
    reference_ranges: fixtureRanges(measurements),
    narrative: 'Findings: LVEF 59.4 % (NORMAL). Impression: normal. Automated result, requires review.',
    qc: { status: 'pass', reasons: [], ood: null },
    model: { name: 'pulse-lite', version: '1.0.0', calibration: null },
    timings_ms: {},
  };
}

/** The model identity and content date the SEG and SR tests write with (fixed: byte-identical rewrites). */
export const FIXTURE_ALGORITHM = { name: 'pulse-lite', version: '1.0.0', calibration: null };
export const FIXTURE_AT = new Date(Date.UTC(2024, 0, 2, 12, 0, 0));
export const FIXTURE_NARRATIVE = { findings: 'LVEF 59.4 % (NORMAL); LV EDV 152.3 ml (NORMAL).', impression: 'Normal cardiac anatomy and function (probability 0.87).', disclaimer: 'Automated result.' };

/** SEG builder input for a fixture: first and last phase, deterministic UIDs. */
export function fixtureSegmentationInput(fixture: Fixture, overrides: Partial<SegmentationInput> = {}): SegmentationInput {
  return {
    context: fixture.context,
    labelMaps: fixture.labelMaps,
    phases: [0, fixture.grid.phases - 1],
    segments: SEGMENTS,
    algorithm: FIXTURE_ALGORITHM,
    ...segmentationUids(fixture.context.studyInstanceUID, fixture.context.seriesInstanceUID, FIXTURE_ALGORITHM),
    contentDateTime: FIXTURE_AT,
    ...overrides,
  };
}

/** SR builder input for a fixture, its result and the SEG written at the result's ED and ES. */
export function fixtureReportInput(fixture: Fixture, result: StudyResult, seg: BuiltSegmentation, overrides: Partial<MeasurementReportInput> = {}): MeasurementReportInput {
  return {
    context: fixture.context,
    result,
    narrative: FIXTURE_NARRATIVE,
    segments: SEGMENTS,
    diagnosisGroups: DIAGNOSIS_GROUPS,
    segmentation: segmentationReference(seg),
    sourceImages: fixture.labelMaps.flatMap((row) => [row[result.phases.ed]!.image, row[result.phases.es]!.image]),
    algorithm: FIXTURE_ALGORITHM,
    ...measurementReportUids(fixture.context.studyInstanceUID, fixture.context.seriesInstanceUID, FIXTURE_ALGORITHM),
    contentDateTime: FIXTURE_AT,
    ...overrides,
  };
}
