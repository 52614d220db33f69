/**
 * Builds a cine MR series (MR Image Storage, one single-frame instance per slice and phase,
 * Explicit VR Little Endian, signed 16-bit pixels) from voxel volumes and their geometry (pure:
 * data in, Part 10 bytes out). UIDs derive from `uidSeed`, so the same input gives the same files.
 */
import { writePart10 } from '../dicom/modules/part10.js';
import { deterministicUid, type FrameOfReferenceUID, type SeriesInstanceUID, type SOPInstanceUID, type StudyInstanceUID } from '../dicom/uid.js';
import { BadInputError } from '../core/errors.js';
import { dot, orientationCross } from '../core/geometry.js';
import type { SliceGeometry } from './geometry.js';


export const MR_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.4';

/** One file of an imported series. */
export interface ImportedFile {
  /** File name, e.g. `s03-p01.dcm` (slice 3, phase 1; zero-based). */
  readonly name: string;
  readonly bytes: Uint8Array;
}

/** Where one written instance sits in the slice x phase grid. */
export interface ImportedInstance {
  readonly sopInstanceUID: SOPInstanceUID;
  readonly file: string;
  /** Zero-based slice index (NIfTI k). */
  readonly slice: number;
  /** Zero-based phase index. */
  readonly phase: number;
  readonly instanceNumber: number;
  readonly triggerTimeMs: number;
}

/** One cardiac phase: a volume of nx*ny*nz voxels in NIfTI order (i fastest). */
export interface PhaseVolume {
  readonly voxels: Float32Array;
  readonly triggerTimeMs: number;
  /** Label volume aligned voxel for voxel, when known. */
  readonly labels?: Float32Array;
}

export interface MrSeriesInput {
  /** Stable identity of the source (e.g. "acdc/patient001"): every UID derives from it. */
  readonly uidSeed: string;
  readonly geometry: SliceGeometry;
  readonly phases: readonly PhaseVolume[];
  readonly sliceThicknessMm: number;
  /** Patient and study attributes (DICOM keywords): PatientID, PatientName, PatientSize (m), PatientWeight (kg), StudyDescription, ... */
  readonly attributes: Readonly<Record<string, string | number>>;
  readonly seriesDescription: string;
}

export interface MrSeries {
  readonly studyInstanceUID: StudyInstanceUID;
  readonly seriesInstanceUID: SeriesInstanceUID;
  readonly frameOfReferenceUID: FrameOfReferenceUID;
  readonly files: ImportedFile[];
  readonly instances: ImportedInstance[];
  /** Label map (rows x columns, row-major) per SOP instance, when label volumes were given. */
  readonly labels: Map<SOPInstanceUID, Uint8Array>;
}

/** Builds the series. Throws BadInputError when volumes and geometry disagree. */
export function buildMrSeries(input: MrSeriesInput): MrSeries {
  const { geometry, phases } = input;
  const rows = geometry.rows;
  const columns = geometry.columns;
  const slices = geometry.imagePositions.length;
  const planeSize = rows * columns;
  if (phases.length === 0) throw new BadInputError('no phase volumes to import');
  for (const [p, phase] of phases.entries()) {
    if (phase.voxels.length !== planeSize * slices) throw new BadInputError(`phase ${p} has ${phase.voxels.length} voxels; the geometry needs ${planeSize * slices}`);
    if (phase.labels && phase.labels.length !== phase.voxels.length) throw new BadInputError(`phase ${p} labels have ${phase.labels.length} voxels, the image ${phase.voxels.length}`);
  }

  const scaling = int16Scaling(phases.map((p) => p.voxels));
  const studyInstanceUID = deterministicUid<'StudyInstanceUID'>(input.uidSeed, 'study');
  const seriesInstanceUID = deterministicUid<'SeriesInstanceUID'>(input.uidSeed, 'series');
  const frameOfReferenceUID = deterministicUid<'FrameOfReferenceUID'>(input.uidSeed, 'frame-of-reference');
  const iop = geometry.imageOrientationPatient;
  const normal = orientationCross(iop);
  const windowCenter = (scaling.storedMin + scaling.storedMax) / 2;
  const windowWidth = Math.max(1, scaling.storedMax - scaling.storedMin);

  const files: ImportedFile[] = [];
  const instances: ImportedInstance[] = [];
  const labels = new Map<SOPInstanceUID, Uint8Array>();
  for (let k = 0; k < slices; k++) {
    const ipp = geometry.imagePositions[k]!;
    for (let p = 0; p < phases.length; p++) {
      const phase = phases[p]!;
      const sopInstanceUID = deterministicUid<'SOPInstanceUID'>(input.uidSeed, 'instance', k, p);
      const instanceNumber = k * phases.length + p + 1;
      const pixels = new Int16Array(planeSize);
      const offset = k * planeSize;
      for (let n = 0; n < planeSize; n++) pixels[n] = Math.round((phase.voxels[offset + n]! - scaling.intercept) / scaling.slope);
      const dataset: Record<string, unknown> = {
        SpecificCharacterSet: 'ISO_IR 100',
        ImageType: ['DERIVED', 'PRIMARY', 'OTHER'],
        SOPClassUID: MR_IMAGE_STORAGE,
        SOPInstanceUID: sopInstanceUID,
        StudyDate: '20170101',
        SeriesDate: '20170101',
        ContentDate: '20170101',
        StudyTime: '120000',
        SeriesTime: '120000',
        ContentTime: '120000',
        AccessionNumber: '',
        Modality: 'MR',
        Manufacturer: 'PULSE for Orthanc (NIfTI import)',
        ReferringPhysicianName: '',
        StudyDescription: 'Cardiac cine MRI',
        SeriesDescription: input.seriesDescription,
        PatientName: '',
        PatientID: '',
        PatientBirthDate: '',
        PatientSex: '',
        ...input.attributes,
        BodyPartExamined: 'HEART',
        ScanningSequence: 'GR',
        SequenceVariant: 'SS',
        ScanOptions: 'CG',
        MRAcquisitionType: '2D',
        SliceThickness: ds(input.sliceThicknessMm),
        RepetitionTime: '',
        EchoTime: '',
        EchoTrainLength: '',
        SpacingBetweenSlices: ds(geometry.spacingBetweenSlices),
        TriggerTime: ds(phase.triggerTimeMs),
        PatientPosition: 'HFS',
        StudyInstanceUID: studyInstanceUID,
        SeriesInstanceUID: seriesInstanceUID,
        StudyID: '1',
        SeriesNumber: '1',
        InstanceNumber: String(instanceNumber),
        ImagePositionPatient: ipp.map(ds),
        ImageOrientationPatient: iop.map(ds),
        FrameOfReferenceUID: frameOfReferenceUID,
        PositionReferenceIndicator: '',
        TemporalPositionIdentifier: String(p + 1),
        NumberOfTemporalPositions: String(phases.length),
        SliceLocation: ds(dot(ipp, normal)),
        SamplesPerPixel: 1,
        PhotometricInterpretation: 'MONOCHROME2',
        Rows: rows,
        Columns: columns,
        PixelSpacing: geometry.pixelSpacing.map(ds),
        BitsAllocated: 16,
        BitsStored: 16,
        HighBit: 15,
        PixelRepresentation: 1,
        WindowCenter: ds(windowCenter),
        WindowWidth: ds(windowWidth),
        ...(scaling.slope !== 1 || scaling.intercept !== 0
          ? { RescaleIntercept: ds(scaling.intercept), RescaleSlope: ds(scaling.slope), RescaleType: 'US' }
          : {}),
        PixelData: pixels.buffer,
      };
      const name = `s${pad(k)}-p${pad(p)}.dcm`;
      // PixelData's dictionary VR is "OB or OW": name it (16-bit native pixels are OW), or dcmjs guesses and warns.
      files.push({ name, bytes: writePart10({ ...dataset, _vrMap: { PixelData: 'OW' } }) });
      instances.push({ sopInstanceUID, file: name, slice: k, phase: p, instanceNumber, triggerTimeMs: phase.triggerTimeMs });
      if (phase.labels) {
        const map = new Uint8Array(planeSize);
        for (let n = 0; n < planeSize; n++) map[n] = phase.labels[offset + n]!;
        labels.set(sopInstanceUID, map);
      }
    }
  }
  return { studyInstanceUID, seriesInstanceUID, frameOfReferenceUID, files, instances, labels };
}


interface Int16Scaling {
  /** stored = round((value - intercept) / slope) */
  readonly slope: number;
  readonly intercept: number;
  readonly storedMin: number;
  readonly storedMax: number;
}

/**
 * Identity when every value is an integer that fits int16 (ACDC), else a linear map of the value
 * range onto 0..32000 written as RescaleSlope/RescaleIntercept (float or wide-integer NIfTIs).
 */
function int16Scaling(volumes: readonly Float32Array[]): Int16Scaling {
  let min = Infinity;
  let max = -Infinity;
  let integer = true;
  for (const v of volumes) {
    for (let n = 0; n < v.length; n++) {
      const x = v[n]!;
      if (!Number.isFinite(x)) throw new BadInputError('NIfTI voxels include NaN or infinite values');
      if (x < min) min = x;
      if (x > max) max = x;
      if (integer && !Number.isInteger(x)) integer = false;
    }
  }
  if (integer && min >= -32768 && max <= 32767) return { slope: 1, intercept: 0, storedMin: min, storedMax: max };
  const slope = max > min ? (max - min) / 32000 : 1;
  return { slope, intercept: min, storedMin: 0, storedMax: Math.round((max - min) / slope) };
}

/** A Decimal String value of at most 16 characters. */
export function ds(value: number): string {
  if (!Number.isFinite(value)) throw new BadInputError(`cannot write ${value} as a decimal string`);
  if (Object.is(value, -0) || Math.abs(value) < 1e-10) return '0';
  for (let digits = 15; digits >= 1; digits--) {
    const text = String(Number(value.toPrecision(digits)));
    if (text.length <= 16) return text;
  }
  return value.toExponential(8);
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}
