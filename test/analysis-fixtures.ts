/** Hand-built studies for the analysis tests: images, grids, label maps and a manifest, no I/O. */
import type { Manifest } from '../src/model/manifest.js';
import type { SOPClassUID, SOPInstanceUID, SeriesInstanceUID, StudyInstanceUID } from '../src/dicom/uid.js';
import type { CineGrid, LabelMap, SourceImage, StudyContext } from '../src/study/types.js';

export const RV = 1;
export const MYO = 2;
export const LV = 3;

export interface ImageSpec {
  readonly rows: number;
  readonly columns: number;
  readonly pixelSpacing: readonly [number, number];
  readonly sliceThickness?: number;
}

export function makeImage(spec: ImageSpec, slice: number, phase: number, positionMm: number): SourceImage {
  return {
    sopClassUID: '1.2.840.10008.5.1.4.1.1.4' as SOPClassUID,
    sopInstanceUID: `2.25.${slice + 1}${phase + 1000}` as SOPInstanceUID,
    seriesInstanceUID: '2.25.7' as SeriesInstanceUID,
    plane: {
      rows: spec.rows,
      columns: spec.columns,
      pixelSpacing: spec.pixelSpacing,
      imagePositionPatient: [0, 0, positionMm],
      imageOrientationPatient: [1, 0, 0, 0, 1, 0],
      ...(spec.sliceThickness !== undefined ? { sliceThickness: spec.sliceThickness } : {}),
    },
    triggerTimeMs: phase * 40,
    pixels: new Float32Array(0),
  };
}

/** Paints `label` on the listed [row, column] pixels. */
export function paint(labels: Uint8Array, columns: number, pixels: ReadonlyArray<readonly [number, number]>, label: number): void {
  for (const [r, c] of pixels) labels[r * columns + c] = label;
}

/** The first `count` pixels of rows starting at `firstRow`, filled row by row (an area of exactly `count` pixels). */
export function block(count: number, columns: number, firstRow: number): Array<[number, number]> {
  return Array.from({ length: count }, (_, i) => [firstRow + Math.floor(i / columns), i % columns] as [number, number]);
}

/**
 * A grid whose slice s sits at positionsMm[s] with image spec specs[s] (or specs[0]); `paintMap(s, t, labels, spec)` fills each label map.
 */
export function makeStudy(
  positionsMm: readonly number[],
  phases: number,
  specs: readonly ImageSpec[],
  paintMap: (slice: number, phase: number, labels: Uint8Array, spec: ImageSpec) => void,
): { grid: CineGrid; labelMaps: LabelMap[][] } {
  const images = positionsMm.map((z, s) => Array.from({ length: phases }, (_, t) => makeImage(specs[s] ?? specs[0]!, s, t, z)));
  const labelMaps = images.map((row, s) =>
    row.map((image, t) => {
      const spec = specs[s] ?? specs[0]!;
      const labels = new Uint8Array(spec.rows * spec.columns);
      paintMap(s, t, labels, spec);
      return { image, labels };
    }),
  );
  const grid: CineGrid = {
    slices: positionsMm.length,
    phases,
    images,
    sliceNormal: [0, 0, 1],
    slicePositionsMm: positionsMm,
    phaseTimesMs: Array.from({ length: phases }, (_, t) => t * 40),
  };
  return { grid, labelMaps };
}

export function makeContext(extra: Partial<Pick<StudyContext, 'patientSizeM' | 'patientWeightKg'>> = {}, sex?: string): StudyContext {
  return {
    studyInstanceUID: '2.25.1' as StudyInstanceUID,
    seriesInstanceUID: '2.25.7' as SeriesInstanceUID,
    modality: 'MR',
    ...extra,
    patientStudyAttributes: sex !== undefined ? { PatientSex: sex } : {},
  };
}

const code = (value: string, meaning: string) => ({ value, scheme: 'SCT', meaning });

/** A manifest with ACDC's labels and groups; the study head's features and statistics are given by the test. */
export function makeManifest(features: ReadonlyArray<{ name: string; size?: number }> = [{ name: 'lvef_pct' }], temperature = 1): Manifest {
  const width = features.reduce((n, f) => n + (f.size ?? 1), 0);
  return {
    name: 'test-model',
    version: '0.0.1',
    model: { file: 'model.onnx' },
    input: {
      name: 'image',
      shape: [-1, 1, 64, 64],
      layout: 'NCHW',
      pixelSpacingMm: [1.5, 1.5],
      channels: 'slice',
      normalization: { type: 'zscore-per-slice', clipPercentiles: [1, 99] },
      cropping: 'image-centre',
    },
    outputs: {
      segmentation: { name: 'seg', shape: [-1, 4, 64, 64] },
      embedding: { name: 'emb', shape: [-1, 8] },
      features: { name: 'feat', shape: [-1, 8, 64, 64] },
    },
    segments: [
      { labelValue: RV, name: 'Right ventricle cavity', key: 'rv', category: code('91723000', 'Anatomical Structure'), type: code('1', 'RV'), color: [0, 0, 255] },
      { labelValue: MYO, name: 'Left ventricle myocardium', key: 'myo', category: code('91723000', 'Anatomical Structure'), type: code('2', 'MYO'), color: [0, 255, 0] },
      { labelValue: LV, name: 'Left ventricle cavity', key: 'lv', category: code('91723000', 'Anatomical Structure'), type: code('3', 'LV'), color: [255, 0, 0] },
    ],
    diagnosis: {
      groups: [
        { name: 'NOR', description: 'Normal cardiac anatomy and function', code: code('1', 'normal') },
        { name: 'DCM', description: 'Dilated cardiomyopathy', code: code('2', 'dcm') },
        { name: 'HCM', description: 'Hypertrophic cardiomyopathy', code: code('3', 'hcm') },
        { name: 'MINF', description: 'Previous myocardial infarction', code: code('4', 'minf') },
        { name: 'RV', description: 'Abnormal right ventricle', code: code('5', 'rv') },
      ],
      studyHead: {
        file: 'study-head.onnx',
        input: 'features',
        output: 'logits',
        features: features.map((f) => ({ name: f.name, size: f.size ?? 1 })),
        mean: new Array<number>(width).fill(0),
        std: new Array<number>(width).fill(1),
        temperature,
        defaultBsaM2: 1.8,
      },
    },
  };
}
