/**
 * Instances -> frame headers: one record per image plane, from single-frame attributes or from the
 * Enhanced MR functional groups (per-frame first, then shared). Reads headers only; no pixels.
 */
import type { NaturalDataset } from '../dicom/read/dicom-file.js';
import type { ParsedInstance } from '../dicom/read/read-instance.js';
import type { ImagePlane } from './types.js';

/** One image plane of an instance, before it is placed in the grid. */
export interface FrameRecord {
  readonly instance: ParsedInstance;
  /** 0-based index of the frame within its instance. */
  readonly frameIndex: number;
  readonly multiFrame: boolean;
  readonly sopClassUID?: string;
  readonly sopInstanceUID?: string;
  readonly seriesInstanceUID: string;
  /** Undefined with `geometryProblem` set when position, orientation or spacing is missing. */
  readonly plane?: ImagePlane;
  readonly geometryProblem?: string;
  readonly triggerTimeMs?: number;
  readonly temporalPositionIndex?: number;
  readonly instanceNumber?: number;
  /**
   * When the frame was acquired (s, from AcquisitionDateTime / AcquisitionTime, or the Enhanced
   * FrameAcquisitionDateTime): the last resort to order phases when trigger times are missing or constant.
   */
  readonly acquisitionTimeS?: number;
  readonly frameOfReferenceUID?: string;
  readonly rescaleSlope: number;
  readonly rescaleIntercept: number;
}

/** A value dcmjs naturalized: numbers stay numbers; DS/IS may arrive as strings; multi-valued as arrays. */
function numbers(value: unknown): number[] | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const list = Array.isArray(value) ? value : typeof value === 'string' ? value.split('\\') : [value];
  const out = list.map((v) => (typeof v === 'number' ? v : Number.parseFloat(String(v))));
  return out.every(Number.isFinite) ? out : undefined;
}

function number(value: unknown): number | undefined {
  const list = numbers(value);
  return list && list.length > 0 ? list[0] : undefined;
}

function text(value: unknown): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (typeof v !== 'string') return undefined;
  const trimmed = v.replace(/[\0\s]+$/u, '').trim();
  return trimmed.length > 0 ? trimmed : undefined;
}

/** TM (HHMMSS.FFFFFF, or the old HH:MM:SS) -> seconds since midnight; undefined when it is not a time. */
export function timeOfDayS(value: unknown): number | undefined {
  const raw = text(value)?.replaceAll(':', '');
  const m = raw ? /^(\d{2})(\d{2})?(\d{2})?(\.\d{1,6})?$/u.exec(raw) : null;
  if (!m) return undefined;
  const seconds = Number(m[1]) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0) + Number(m[4] ?? 0);
  return Number.isFinite(seconds) ? seconds : undefined;
}

/** DT (YYYYMMDDHHMMSS.FFFFFF, offset ignored) -> seconds since 1970 (UTC, for ordering only). */
export function dateTimeS(value: unknown): number | undefined {
  const raw = text(value);
  const m = raw ? /^(\d{4})(\d{2})(\d{2})(\d{2}(?:\d{2}(?:\d{2}(?:\.\d{1,6})?)?)?)?(?:[+-]\d{4})?$/u.exec(raw) : null;
  if (!m) return undefined;
  const day = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) / 1000;
  const time = m[4] ? timeOfDayS(m[4]) : 0;
  return Number.isFinite(day) && time !== undefined ? day + time : undefined;
}

/** The first item of a sequence (dcmjs gives sequences as arrays of data sets). */
function item(dataset: NaturalDataset | undefined, keyword: string): NaturalDataset | undefined {
  const seq = dataset?.[keyword];
  const first = Array.isArray(seq) ? seq[0] : seq;
  return first && typeof first === 'object' ? (first as NaturalDataset) : undefined;
}

/** Looks a functional group macro up in the frame's own groups first, then in the shared ones. */
function macro(perFrame: NaturalDataset | undefined, shared: NaturalDataset | undefined, keyword: string): NaturalDataset | undefined {
  return item(perFrame, keyword) ?? item(shared, keyword);
}

function planeFrom(
  dataset: NaturalDataset,
  rows: number | undefined,
  columns: number | undefined,
  position: unknown,
  orientation: unknown,
  spacing: unknown,
  thickness: unknown,
): { plane?: ImagePlane; problem?: string } {
  const ipp = numbers(position);
  const iop = numbers(orientation);
  const ps = numbers(spacing) ?? numbers(dataset['ImagerPixelSpacing']);
  if (!ipp || ipp.length < 3) return { problem: 'ImagePositionPatient is missing or invalid' };
  if (!iop || iop.length < 6) return { problem: 'ImageOrientationPatient is missing or invalid' };
  if (!ps || ps.length < 2 || ps[0]! <= 0 || ps[1]! <= 0) return { problem: 'PixelSpacing is missing or invalid' };
  if (!rows || !columns) return { problem: 'Rows/Columns are missing' };
  const row = Math.hypot(iop[0]!, iop[1]!, iop[2]!);
  const col = Math.hypot(iop[3]!, iop[4]!, iop[5]!);
  if (Math.abs(row - 1) > 0.05 || Math.abs(col - 1) > 0.05) return { problem: 'ImageOrientationPatient is not made of unit vectors' };
  const sliceThickness = number(thickness);
  const plane: ImagePlane = {
    rows,
    columns,
    pixelSpacing: [ps[0]!, ps[1]!],
    imagePositionPatient: [ipp[0]!, ipp[1]!, ipp[2]!],
    // Re-normalised: scanners write cosines rounded to a few digits.
    imageOrientationPatient: [iop[0]! / row, iop[1]! / row, iop[2]! / row, iop[3]! / col, iop[4]! / col, iop[5]! / col],
    ...(sliceThickness !== undefined && sliceThickness > 0 ? { sliceThickness } : {}),
  };
  return { plane };
}

/** The frame headers of one instance (one record for single-frame, one per frame for Enhanced MR). */
export function frameRecords(instance: ParsedInstance): FrameRecord[] {
  const ds = instance.dataset;
  const seriesInstanceUID = text(ds['SeriesInstanceUID']) ?? '(no SeriesInstanceUID)';
  const sopClassUID = text(ds['SOPClassUID']);
  const sopInstanceUID = text(ds['SOPInstanceUID']);
  const rows = number(ds['Rows']);
  const columns = number(ds['Columns']);
  const instanceNumber = number(ds['InstanceNumber']);
  const perFrameGroups = ds['PerFrameFunctionalGroupsSequence'];
  const base = {
    instance,
    seriesInstanceUID,
    ...(sopClassUID ? { sopClassUID } : {}),
    ...(sopInstanceUID ? { sopInstanceUID } : {}),
    ...(instanceNumber !== undefined ? { instanceNumber } : {}),
  };
  if (Array.isArray(perFrameGroups) && perFrameGroups.length > 0) {
    const shared = item(ds, 'SharedFunctionalGroupsSequence');
    const frames = number(ds['NumberOfFrames']) ?? perFrameGroups.length;
    const records: FrameRecord[] = [];
    for (let f = 0; f < Math.min(frames, perFrameGroups.length); f++) {
      const own = perFrameGroups[f] as NaturalDataset | undefined;
      const position = macro(own, shared, 'PlanePositionSequence');
      const orientation = macro(own, shared, 'PlaneOrientationSequence');
      const measures = macro(own, shared, 'PixelMeasuresSequence');
      const cardiac = macro(own, shared, 'CardiacSynchronizationSequence');
      const content = item(own, 'FrameContentSequence');
      const transform = macro(own, shared, 'PixelValueTransformationSequence');
      const { plane, problem } = planeFrom(
        ds,
        rows,
        columns,
        position?.['ImagePositionPatient'],
        orientation?.['ImageOrientationPatient'],
        measures?.['PixelSpacing'],
        measures?.['SliceThickness'],
      );
      // Nominal first (the scanner's phase grid), else the measured delay of this frame.
      const triggerTimeMs = number(cardiac?.['NominalCardiacTriggerDelayTime']) ?? number(cardiac?.['ActualCardiacTriggerDelayTime']);
      const temporalPositionIndex = number(content?.['TemporalPositionIndex']);
      const acquisitionTimeS = dateTimeS(content?.['FrameAcquisitionDateTime']) ?? dateTimeS(content?.['FrameReferenceDateTime']);
      const frameOfReferenceUID = text(ds['FrameOfReferenceUID']);
      records.push({
        ...base,
        frameIndex: f,
        multiFrame: true,
        ...(plane ? { plane } : { geometryProblem: problem! }),
        ...(triggerTimeMs !== undefined ? { triggerTimeMs } : {}),
        ...(temporalPositionIndex !== undefined ? { temporalPositionIndex } : {}),
        ...(acquisitionTimeS !== undefined ? { acquisitionTimeS } : {}),
        ...(frameOfReferenceUID ? { frameOfReferenceUID } : {}),
        rescaleSlope: number(transform?.['RescaleSlope']) ?? number(ds['RescaleSlope']) ?? 1,
        rescaleIntercept: number(transform?.['RescaleIntercept']) ?? number(ds['RescaleIntercept']) ?? 0,
      });
    }
    return records;
  }
  const { plane, problem } = planeFrom(ds, rows, columns, ds['ImagePositionPatient'], ds['ImageOrientationPatient'], ds['PixelSpacing'], ds['SliceThickness']);
  const triggerTimeMs = number(ds['TriggerTime']) ?? number(ds['NominalCardiacTriggerDelayTime']);
  const temporalPositionIndex = number(ds['TemporalPositionIndex']);
  const acquisitionTimeS = dateTimeS(ds['AcquisitionDateTime']) ?? timeOfDayS(ds['AcquisitionTime']);
  const frameOfReferenceUID = text(ds['FrameOfReferenceUID']);
  return [
    {
      ...base,
      frameIndex: 0,
      multiFrame: false,
      ...(plane ? { plane } : { geometryProblem: problem! }),
      ...(triggerTimeMs !== undefined ? { triggerTimeMs } : {}),
      ...(temporalPositionIndex !== undefined ? { temporalPositionIndex } : {}),
      ...(acquisitionTimeS !== undefined ? { acquisitionTimeS } : {}),
      ...(frameOfReferenceUID ? { frameOfReferenceUID } : {}),
      // The standard Modality LUT only. Philips' private scale slope (2005,100E) and intercept
      // (2005,100D) are not applied on top: they turn display values into the scanner's floating-point
      // values (FP = DV / (RescaleSlope x ScaleSlope)), a constant factor per image that quantitative
      // maps need and segmentation does not (docs/study-reading.md).
      rescaleSlope: number(ds['RescaleSlope']) ?? 1,
      rescaleIntercept: number(ds['RescaleIntercept']) ?? 0,
    },
  ];
}

export { number as firstNumber, text as firstText };
