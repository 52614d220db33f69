/**
 * Step 5 (optional): the human-readable report, from ONE source, the study result: the PDF (and its
 * DICOM Encapsulated PDF, series 9004). Key images are the overlay renderer's ED and ES frames (the
 * mid-ventricular slice with the model's contours).
 */
import type { StudyResult } from '../core/result.js';
import { overlayOfRun } from './overlay-of-run.js';
import { buildReportPdf } from '../dicom/pdf/document.js';
import { reportFonts } from '../dicom/pdf/fonts.js';
import { buildEncapsulatedPdf, encapsulatedPdfUids } from '../dicom/pdf/sop.js';
import type { StudyRun } from './steps.js';

export interface ReportStepInput {
  readonly run: StudyRun;
  /** The result the report states (result.json; timings aside). */
  readonly result: StudyResult;
  readonly calibration: string | null;
  /** Series of the other outputs (the PDF series must differ). */
  readonly otherSeries: readonly string[];
  readonly contentDateTime: Date;
}

export interface ReportOutputs {
  /** report.pdf */
  readonly pdf: Uint8Array;
  /** pdf.dcm: the same PDF as a DICOM Encapsulated PDF in the source study. */
  readonly pdfDicom: Uint8Array;
}

export async function reportStep(input: ReportStepInput): Promise<ReportOutputs> {
  const { run, result, calibration, contentDateTime } = input;
  const { study, segmentation, model } = run;
  const { manifest } = model;
  const algorithm = { name: manifest.name, version: manifest.version, calibration };
  const frames = overlayOfRun(run, result, calibration, contentDateTime).frames;
  const pdf = await buildReportPdf({
    result,
    groups: manifest.diagnosis.groups,
    keyImages: [
      { caption: 'End-diastole, mid-ventricular slice', image: frames[0]! },
      { caption: 'End-systole, mid-ventricular slice', image: frames[1]! },
    ],
    fonts: reportFonts(),
    createdAt: contentDateTime,
  });
  const pdfDicom = buildEncapsulatedPdf({
    context: study.context,
    pdf,
    algorithm,
    ...encapsulatedPdfUids(study.context.studyInstanceUID, study.context.seriesInstanceUID, algorithm),
    otherSeries: input.otherSeries,
    contentDateTime,
  }).bytes;
  return { pdf, pdfDicom };
}
