/**
 * Encapsulated PDF Storage (PS3.3 A.45.1): the report PDF wrapped as a DICOM instance in the source
 * study (series 9004), for PACS that show neither SEG nor SR. The common block (SOP Common,
 * Patient/Study, series, equipment, provenance) comes from the one writer base (modules/sop-class.ts);
 * the Encapsulated Document module is written here. Off by default; the caller decides.
 */
import type { StudyContext } from '../../study/types.js';
import { modelLabel, type ModelIdentity } from '../../core/model-identity.js';
import { deterministicUid, type SeriesInstanceUID, type SOPInstanceUID } from '../uid.js';
import type { SanitisedValue } from '../modules/copied-values.js';
import { writePart10 } from '../modules/part10.js';
import { derivedObjectBase } from '../modules/sop-class.js';
import { REPORT_TITLE } from './document.js';

export const ENCAPSULATED_PDF_SOP_CLASS_UID = '1.2.840.10008.5.1.4.1.1.104.1';
export const DEFAULT_PDF_SERIES_NUMBER = 9004;
export const DEFAULT_PDF_SERIES_DESCRIPTION = 'PULSE report (automated, not reviewed)';

export interface EncapsulatedPdfInput {
  readonly context: StudyContext;
  /** The PDF file's bytes (buildReportPdf). */
  readonly pdf: Uint8Array;
  readonly algorithm: ModelIdentity;
  readonly seriesInstanceUID: SeriesInstanceUID;
  readonly sopInstanceUID: SOPInstanceUID;
  /** Other outputs' series (SEG, SR): the PDF's series must differ. */
  readonly otherSeries?: readonly string[];
  /** @defaultValue 9004 */
  readonly seriesNumber?: number;
  /** @defaultValue now */
  readonly contentDateTime?: Date;
}

export interface BuiltEncapsulatedPdf {
  readonly bytes: Uint8Array;
  readonly sopInstanceUID: SOPInstanceUID;
  readonly seriesInstanceUID: SeriesInstanceUID;
  readonly sanitised: readonly SanitisedValue[];
}

/** Deterministic UIDs (same rule as the SEG's, SR's and overlay's). */
export function encapsulatedPdfUids(studyInstanceUID: string, sourceSeriesInstanceUID: string, algorithm: ModelIdentity): { seriesInstanceUID: SeriesInstanceUID; sopInstanceUID: SOPInstanceUID } {
  const parts = [studyInstanceUID, sourceSeriesInstanceUID, algorithm.name, algorithm.version, algorithm.calibration ?? 'uncalibrated', 'pdf'];
  return { seriesInstanceUID: deterministicUid(...parts, 'series'), sopInstanceUID: deterministicUid(...parts, 'instance') };
}

function checkPdf(pdf: Uint8Array | undefined): Uint8Array {
  if (!(pdf instanceof Uint8Array) || pdf.length < 8) throw new TypeError('pdf must hold the PDF file bytes');
  if (Buffer.from(pdf.subarray(0, 5)).toString('latin1') !== '%PDF-') throw new TypeError('pdf does not start with %PDF- (not a PDF file)');
  return pdf;
}

export function buildEncapsulatedPdf(input: EncapsulatedPdfInput): BuiltEncapsulatedPdf {
  const pdf = checkPdf(input.pdf);
  const base = derivedObjectBase({
    context: input.context,
    sopClassUID: ENCAPSULATED_PDF_SOP_CLASS_UID,
    sopInstanceUID: input.sopInstanceUID,
    seriesInstanceUID: input.seriesInstanceUID,
    modality: 'DOC',
    seriesNumber: input.seriesNumber ?? DEFAULT_PDF_SERIES_NUMBER,
    instanceNumber: 1,
    seriesDescription: DEFAULT_PDF_SERIES_DESCRIPTION,
    algorithm: input.algorithm,
    ...(input.otherSeries ? { otherSeries: input.otherSeries } : {}),
    ...(input.contentDateTime !== undefined ? { contentDateTime: input.contentDateTime } : {}),
  });
  // OB values have even length: pad with one NUL; EncapsulatedDocumentLength keeps the true length.
  const padded = pdf.length % 2 === 0 ? pdf : (() => {
    const out = new Uint8Array(pdf.length + 1);
    out.set(pdf);
    return out;
  })();
  const dataset: Record<string, unknown> = {
    ...base.attributes,
    // SC Equipment
    ConversionType: 'SYN',
    // Encapsulated Document
    AcquisitionDateTime: `${base.date}${base.time}`,
    BurnedInAnnotation: 'YES',
    RecognizableVisualFeatures: 'NO',
    DocumentTitle: `${REPORT_TITLE} (${modelLabel(base.algorithm)})`.slice(0, 64),
    ConceptNameCodeSequence: [],
    VerificationFlag: 'UNVERIFIED',
    MIMETypeOfEncapsulatedDocument: 'application/pdf',
    EncapsulatedDocument: [padded.buffer.slice(padded.byteOffset, padded.byteOffset + padded.byteLength)],
    EncapsulatedDocumentLength: pdf.length,
  };
  return { bytes: writePart10(dataset), sopInstanceUID: input.sopInstanceUID, seriesInstanceUID: input.seriesInstanceUID, sanitised: base.sanitised };
}
