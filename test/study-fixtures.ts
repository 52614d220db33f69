/**
 * Small synthetic cine studies written as real DICOM with dcmjs, for the study reader's tests.
 * Every stored pixel encodes its slice and phase, so a test can check where each image landed.
 */
import dcmjs from 'dcmjs';

export type Vec3 = [number, number, number];

export interface CineFixtureOptions {
  slices?: number;
  phases?: number;
  rows?: number;
  columns?: number;
  /** Trigger time jitter (ms) added per file, deterministic. */
  jitterMs?: number;
  /** Write SliceLocation values that contradict the positions. */
  lyingSliceLocation?: boolean;
  /** Write InstanceNumbers in an order unrelated to slices and phases. */
  lyingInstanceNumber?: boolean;
  /** A different FrameOfReferenceUID in every file. */
  frameOfReferencePerFile?: boolean;
  /** Number slices so that slice 0 is the farthest along the normal. */
  reversedSlices?: boolean;
  /** Shuffle the file order with this seed. */
  shuffleSeed?: number;
  /** Tiny per-slice orientation wobble (degrees). */
  orientationWobbleDeg?: number;
  seriesDescription?: string;
  seriesInstanceUID?: string;
  /** Overrides per file (keyed by `s,p`), applied to the naturalized data set last. */
  patch?: (dataset: Record<string, unknown>, slice: number, phase: number) => void;
  /** Row direction (unit) of the stack; defaults to an oblique short-axis-like plane. */
  rowDirection?: Vec3;
  columnDirection?: Vec3;
  transferSyntaxUID?: string;
  /** Elements written as they are (dcmjs tag hex -> { vr, Value }), e.g. group lengths. */
  rawElements?: Record<string, { vr: string; Value: unknown[] }>;
}

export const STUDY_UID = '1.2.826.0.1.3680043.8.498.1000';
export const SERIES_UID = '1.2.826.0.1.3680043.8.498.1000.1';
export const MR_IMAGE = '1.2.840.10008.5.1.4.1.1.4';
export const ENHANCED_MR_IMAGE = '1.2.840.10008.5.1.4.1.1.4.1';
export const SLICE_GAP_MM = 8;
export const SLOPE = 2;
export const INTERCEPT = -100;

const normalize = (v: Vec3): Vec3 => {
  const n = Math.hypot(...v);
  return [v[0] / n, v[1] / n, v[2] / n];
};
const cross = (a: Vec3, b: Vec3): Vec3 => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];

/** An oblique plane (like a cardiac short axis): neither axial, coronal nor sagittal. */
export const ROW: Vec3 = normalize([0.7, 0.6, -0.3]);
export const COLUMN: Vec3 = normalize(cross(normalize([0.2, -0.3, 0.9]), ROW).map((x) => -x) as Vec3);
export const NORMAL: Vec3 = normalize(cross(ROW, COLUMN));

/** The stored value of pixel (r, c) of slice s (in ascending position order), phase p: signed, small. */
export function storedValue(s: number, p: number, r: number, c: number): number {
  return s * 1000 + p * 100 + ((r * 7 + c) % 50) - 25;
}

/** The value after RescaleSlope/Intercept, as the reader must report it. */
export function modalityValue(s: number, p: number, r: number, c: number): number {
  return storedValue(s, p, r, c) * SLOPE + INTERCEPT;
}

/** Decimal strings fit in 16 characters (DS), as a scanner would write them. */
const ds = (values: readonly number[]): number[] => values.map((v) => Number(v.toFixed(6)));

function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

function shuffle<T>(items: T[], seed: number): T[] {
  const random = rng(seed);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function rotateAbout(v: Vec3, axis: Vec3, deg: number): Vec3 {
  const t = (deg * Math.PI) / 180;
  const k = normalize(axis);
  const kv = cross(k, v);
  const kd = k[0] * v[0] + k[1] * v[1] + k[2] * v[2];
  return [0, 1, 2].map((i) => v[i]! * Math.cos(t) + kv[i]! * Math.sin(t) + k[i]! * kd * (1 - Math.cos(t))) as Vec3;
}

function pixelBuffer(s: number, p: number, rows: number, columns: number): ArrayBuffer {
  const data = new Int16Array(rows * columns);
  for (let r = 0; r < rows; r++) for (let c = 0; c < columns; c++) data[r * columns + c] = storedValue(s, p, r, c);
  return data.buffer;
}

/** Writes a naturalized data set as a Part 10 file. */
export function writeDicom(
  dataset: Record<string, unknown>,
  transferSyntaxUID = '1.2.840.10008.1.2.1',
  rawElements: Record<string, { vr: string; Value: unknown[] }> = {},
): Uint8Array {
  const meta = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: dataset['SOPClassUID'],
    MediaStorageSOPInstanceUID: dataset['SOPInstanceUID'],
    TransferSyntaxUID: transferSyntaxUID,
    ImplementationClassUID: '1.2.826.0.1.3680043.8.498.1',
  };
  const dict = new dcmjs.data.DicomDict(dcmjs.data.DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = { ...dcmjs.data.DicomMetaDictionary.denaturalizeDataset({ _vrMap: { PixelData: 'OW' }, ...dataset }), ...rawElements };
  return new Uint8Array(dict.write());
}

interface Cell {
  s: number; // slice in ascending position order
  p: number;
  position: Vec3;
  row: Vec3;
  column: Vec3;
  triggerTime: number;
}

function cells(o: Required<Pick<CineFixtureOptions, 'slices' | 'phases'>> & CineFixtureOptions): Cell[] {
  const row0 = o.rowDirection ?? ROW;
  const column0 = o.columnDirection ?? COLUMN;
  const normal = normalize(cross(row0, column0));
  const random = rng(12345);
  const out: Cell[] = [];
  const origin: Vec3 = [-40, 25, 60];
  for (let s = 0; s < o.slices; s++) {
    const wobble = o.orientationWobbleDeg ? (s % 2 === 0 ? 1 : -1) * o.orientationWobbleDeg : 0;
    const row = wobble ? rotateAbout(row0, column0, wobble) : row0;
    const column = wobble ? rotateAbout(column0, row0, wobble) : column0;
    for (let p = 0; p < o.phases; p++) {
      const d = s * SLICE_GAP_MM;
      const position: Vec3 = [origin[0] + d * normal[0], origin[1] + d * normal[1], origin[2] + d * normal[2]];
      const jitter = o.jitterMs ? (random() * 2 - 1) * o.jitterMs : 0;
      out.push({ s, p, position, row, column, triggerTime: Math.round((p * 40 + jitter) * 100) / 100 });
    }
  }
  return out;
}

function commonAttributes(o: CineFixtureOptions): Record<string, unknown> {
  return {
    PatientName: 'Fixture^Patient',
    PatientID: 'FIXTURE-1',
    PatientBirthDate: '19700230', // an invalid date, as scanners sometimes write
    PatientSex: 'O',
    PatientSize: 1.72,
    PatientWeight: 70,
    StudyInstanceUID: STUDY_UID,
    StudyDate: '20240101',
    StudyTime: '120000',
    StudyID: '1',
    AccessionNumber: 'ACC1',
    ReferringPhysicianName: '',
    Modality: 'MR',
    SeriesInstanceUID: o.seriesInstanceUID ?? SERIES_UID,
    SeriesNumber: 5,
    SeriesDescription: o.seriesDescription ?? 'cine SAX',
    Rows: o.rows ?? 24,
    Columns: o.columns ?? 32,
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    BitsAllocated: 16,
    BitsStored: 16,
    HighBit: 15,
    PixelRepresentation: 1,
  };
}

/** A single-frame cine study: one MR Image per slice and phase. */
export function cineInstances(options: CineFixtureOptions = {}): Array<{ source: string; bytes: Uint8Array }> {
  const o = { slices: 4, phases: 3, ...options };
  const rows = o.rows ?? 24;
  const columns = o.columns ?? 32;
  const files = cells(o).map((cell, i) => {
    const sNumbered = o.reversedSlices ? o.slices - 1 - cell.s : cell.s;
    const instanceNumber = o.lyingInstanceNumber ? ((i * 7) % (o.slices * o.phases)) + 1 : sNumbered * o.phases + cell.p + 1;
    const dataset: Record<string, unknown> = {
      ...commonAttributes(o),
      SOPClassUID: MR_IMAGE,
      SOPInstanceUID: `${o.seriesInstanceUID ?? SERIES_UID}.${cell.s + 1}.${cell.p + 1}`,
      FrameOfReferenceUID: o.frameOfReferencePerFile ? `1.2.826.0.1.3680043.8.498.2.${i + 1}` : '1.2.826.0.1.3680043.8.498.2',
      InstanceNumber: instanceNumber,
      ImagePositionPatient: ds(cell.position),
      ImageOrientationPatient: ds([...cell.row, ...cell.column]),
      PixelSpacing: [1.5, 1.25],
      SliceThickness: 6,
      SliceLocation: o.lyingSliceLocation ? (i * 13) % 37 : cell.s * SLICE_GAP_MM,
      TriggerTime: cell.triggerTime,
      RescaleSlope: SLOPE,
      RescaleIntercept: INTERCEPT,
      PixelData: pixelBuffer(cell.s, cell.p, rows, columns),
    };
    o.patch?.(dataset, cell.s, cell.p);
    return { source: `img-${String(sNumbered).padStart(2, '0')}-${cell.p}.dcm`, bytes: writeDicom(dataset, o.transferSyntaxUID, o.rawElements) };
  });
  return o.shuffleSeed !== undefined ? shuffle(files, o.shuffleSeed) : files;
}

/** The same study as one Enhanced MR multi-frame instance (functional groups; frames in shuffled order). */
export function enhancedCineInstance(options: CineFixtureOptions = {}): { source: string; bytes: Uint8Array } {
  const o = { slices: 4, phases: 3, ...options };
  const rows = o.rows ?? 24;
  const columns = o.columns ?? 32;
  const ordered = cells(o);
  const frames = o.shuffleSeed !== undefined ? shuffle(ordered, o.shuffleSeed) : ordered;
  const pixels = new Int16Array(rows * columns * frames.length);
  frames.forEach((cell, f) => pixels.set(new Int16Array(pixelBuffer(cell.s, cell.p, rows, columns)), f * rows * columns));
  const dataset: Record<string, unknown> = {
    ...commonAttributes(o),
    SOPClassUID: ENHANCED_MR_IMAGE,
    SOPInstanceUID: `${o.seriesInstanceUID ?? SERIES_UID}.99`,
    FrameOfReferenceUID: '1.2.826.0.1.3680043.8.498.2',
    InstanceNumber: 1,
    NumberOfFrames: frames.length,
    SharedFunctionalGroupsSequence: [
      {
        PixelMeasuresSequence: [{ PixelSpacing: [1.5, 1.25], SliceThickness: 6 }],
        PixelValueTransformationSequence: [{ RescaleSlope: SLOPE, RescaleIntercept: INTERCEPT, RescaleType: 'US' }],
      },
    ],
    PerFrameFunctionalGroupsSequence: frames.map((cell) => ({
      PlanePositionSequence: [{ ImagePositionPatient: ds(cell.position) }],
      PlaneOrientationSequence: [{ ImageOrientationPatient: ds([...cell.row, ...cell.column]) }],
      CardiacSynchronizationSequence: [{ NominalCardiacTriggerDelayTime: cell.triggerTime }],
      FrameContentSequence: [{ StackID: '1', InStackPositionNumber: cell.s + 1, TemporalPositionIndex: cell.p + 1 }],
    })),
    PixelData: pixels.buffer,
  };
  o.patch?.(dataset, -1, -1);
  return { source: 'enhanced.dcm', bytes: writeDicom(dataset, o.transferSyntaxUID) };
}
