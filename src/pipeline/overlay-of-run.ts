/**
 * The overlay of one run (mid-ventricular ED and ES with contours and key numbers): the optional
 * Secondary Capture series and the PDF's key images draw the same picture, built in one place.
 */
import type { StudyResult } from '../core/result.js';
import { buildOverlay, overlayUids, type BuiltOverlay } from '../dicom/overlay/sop.js';
import type { StudyRun } from './steps.js';

export function overlayOfRun(run: StudyRun, result: StudyResult, calibration: string | null, contentDateTime: Date): BuiltOverlay {
  const { study, segmentation, model } = run;
  const { manifest } = model;
  const algorithm = { name: manifest.name, version: manifest.version, calibration };
  return buildOverlay({
    context: study.context,
    labelMaps: segmentation.labelMaps,
    result,
    segments: manifest.segments,
    algorithm,
    ...overlayUids(study.context.studyInstanceUID, study.context.seriesInstanceUID, algorithm),
    contentDateTime,
  });
}
