/**
 * DICOM -> typed cine study. The public surface of src/study:
 *
 *   const study = readStudy(instances, rules, (decision) => log.info(decision));   // pure: bytes in
 *   const study = await readStudyFolder('/path/to/study');                        // the file-system edge
 *   study.grid.images[slice][phase].pixels                                         // modality values (stored integers or Float32)
 *
 * and, for single files, readInstance(source, bytes) -> data set + decoded frames.
 */
export { readStudy, readStudyFolder, type SeriesDecisionLog } from './read-study.js';
export {
  defaultSeriesSelectionRules,
  parseSeriesSelectionRules,
  SeriesSelectionRulesSchema,
  type SeriesSelectionRules,
  type SeriesSelectionRulesInput,
} from './series-rules.js';
export { PATIENT_STUDY_KEYWORDS, plausibleSizeM, plausibleWeightKg } from './context.js';
export { readInstance, parseInstance, type DecodedInstance, type ParsedInstance } from '../dicom/read/read-instance.js';
export type { CineGrid, CineStudy, ImagePixels, ImagePlane, SeriesDecision, SourceImage, StudyContext, Vec3 } from './types.js';
