/**
 * The typed study model every stage shares: what the reader builds from DICOM, what pre-processing,
 * analysis and the DICOM writers consume. Built only through validating constructors (src/study/).
 */
import type { SeriesInstanceUID, SOPClassUID, SOPInstanceUID, StudyInstanceUID, FrameOfReferenceUID } from '../dicom/uid.js';

export type { Vec3 } from '../core/geometry.js';
import type { Vec3 } from '../core/geometry.js';
import type { PlaneGeometry } from '../core/in-plane.js';

/**
 * Geometry of one image plane, in DICOM patient coordinates (mm): the fields the in-plane transforms
 * need (PixelSpacing as DICOM orders it, [between rows, between columns]; row then column direction
 * cosines), and the slice thickness.
 */
export interface ImagePlane extends PlaneGeometry {
  readonly sliceThickness?: number;
}

/**
 * An image's modality values. Where they are the stored integers themselves (one sample per pixel,
 * 8 or 16 bits allocated, RescaleSlope 1 and RescaleIntercept 0: most MR) they stay in the stored
 * integer array, often a view on the retrieved file's bytes, with no copy; otherwise (a rescale,
 * colour, 32-bit samples) Float32. Both hold the same numbers a reader sees: a 12 x 30 study of
 * 184 x 184 images takes 24 MB as stored against 49 MB more as Float32 (the service's peak memory).
 */
export type ImagePixels = Float32Array | Uint16Array | Int16Array | Uint8Array | Int8Array;

/** One source image (a single-frame instance, or one frame of a multi-frame instance). */
export interface SourceImage {
  readonly sopClassUID: SOPClassUID;
  readonly sopInstanceUID: SOPInstanceUID;
  readonly seriesInstanceUID: SeriesInstanceUID;
  /** 1-based frame number within a multi-frame instance; undefined for single-frame instances. */
  readonly frameNumber?: number;
  readonly plane: ImagePlane;
  /** Nominal time after the R wave (ms), when known. */
  readonly triggerTimeMs?: number;
  /**
   * Modality values (RescaleSlope/Intercept applied), row-major, rows x columns. Read-only: an integer
   * array may be a view on the instance's own bytes (see {@link ImagePixels}).
   */
  readonly pixels: ImagePixels;
}

/**
 * A cine short-axis stack: images[slice][phase]. Slices are ordered by their position along the
 * stack normal (ascending projection of ImagePositionPatient on `sliceNormal`), never by
 * InstanceNumber, SliceLocation or file name; phases by trigger time or temporal index.
 */
export interface CineGrid {
  readonly slices: number;
  readonly phases: number;
  readonly images: ReadonlyArray<ReadonlyArray<SourceImage>>;
  /** Unit normal of the stack (row cosines x column cosines of the first slice). */
  readonly sliceNormal: Vec3;
  /** Position of each slice centre along `sliceNormal` (mm), ascending. */
  readonly slicePositionsMm: readonly number[];
  /** Trigger time per phase (ms), or phase index x nominal interval when the data lacks it. */
  readonly phaseTimesMs: readonly number[];
}

/** Attributes copied into derived objects (SEG, SR): patient, general study and equipment context. */
export interface StudyContext {
  readonly studyInstanceUID: StudyInstanceUID;
  readonly seriesInstanceUID: SeriesInstanceUID;
  readonly frameOfReferenceUID?: FrameOfReferenceUID;
  readonly modality: string;
  /** Height in metres (PatientSize) when present and plausible. */
  readonly patientSizeM?: number;
  /** Weight in kg (PatientWeight) when present and plausible. */
  readonly patientWeightKg?: number;
  /**
   * Patient and General Study module attributes, as dcmjs naturalized keywords
   * (PatientName, PatientID, PatientBirthDate, PatientSex, StudyDate, StudyTime, StudyID,
   * AccessionNumber, ReferringPhysicianName, StudyDescription, ...). Never logged.
   */
  readonly patientStudyAttributes: Readonly<Record<string, unknown>>;
}

/** Why a series was or was not chosen as the cine short-axis stack. */
export interface SeriesDecision {
  readonly seriesInstanceUID: string;
  readonly chosen: boolean;
  readonly reason: string;
}

export interface CineStudy {
  readonly context: StudyContext;
  readonly grid: CineGrid;
  readonly decisions: readonly SeriesDecision[];
}

/** A label map on one source image's exact grid: rows x columns, values are the manifest's label values. */
export interface LabelMap {
  readonly image: SourceImage;
  readonly labels: Uint8Array;
}
