/**
 * A reference SEG (SegmentAlgorithmType MANUAL) from label maps that arrived beside the images, as
 * NIfTI annotations do: research sites keep their labels that way, and the site calibration reads
 * annotated studies back from Orthanc as image series + SEG.
 */
import { buildSegmentation, type BuiltSegmentation } from '../dicom/seg/sop.js';
import { deterministicUid } from '../dicom/uid.js';
import type { LoadedManifest } from '../model/manifest.js';
import type { StudyInstance } from '../core/study-instance.js';
import { readStudy } from '../study/index.js';
import type { LabelMap } from '../study/types.js';
import { BadInputError } from '../core/errors.js';
import type { SeriesSelectionRulesInput } from '../study/series-rules.js';

export interface ReferenceSegInput {
  /** The image instances the labels lie on (Part 10 bytes). */
  readonly instances: readonly StudyInstance[];
  /** Label map per SOP Instance UID, rows x columns, the manifest's label values. */
  readonly labels: ReadonlyMap<string, Uint8Array>;
  /** Supplies the segment definitions (labels, names, codes, colours). */
  readonly manifest: LoadedManifest;
  /** Who made the labels, e.g. 'ACDC expert annotation'. */
  readonly annotator: string;
  /** Series selection rules for the images (e.g. the modalities a calibration opens). @defaultValue orientation 'any' */
  readonly seriesRules?: SeriesSelectionRulesInput;
}

/**
 * Builds the MANUAL SEG over every image that has labels (any subset of slices and phases); every
 * annotated image gets at least one frame, so a reader knows what was annotated. UIDs depend only on
 * the source series and the annotator.
 */
export function buildReferenceSegmentation(input: ReferenceSegInput): BuiltSegmentation {
  // Imported NIfTI volumes are often axis-aligned, so no short-axis orientation rule here.
  const study = readStudy(input.instances, { orientation: 'any', ...input.seriesRules });
  const { grid, context } = study;
  const labelMaps: Array<Array<LabelMap | undefined>> = grid.images.map((row) =>
    row.map((image) => {
      const labels = input.labels.get(image.sopInstanceUID);
      return labels === undefined ? undefined : { image, labels };
    }),
  );
  const phases = [...Array(grid.phases).keys()].filter((p) => labelMaps.some((row) => row[p] !== undefined));
  if (phases.length === 0) throw new BadInputError('no label map matches an image of the series', context.studyInstanceUID);
  // A person often annotates only some slices of ED and ES: the SEG marks exactly what was annotated.
  const algorithm = { name: input.annotator, version: '1.0.0', calibration: null };
  const parts = [context.studyInstanceUID, context.seriesInstanceUID, 'reference-seg', input.annotator];
  return buildSegmentation({
    context,
    labelMaps,
    phases,
    segments: input.manifest.segments,
    algorithm,
    algorithmType: 'MANUAL',
    seriesInstanceUID: deterministicUid(...parts, 'series'),
    sopInstanceUID: deterministicUid(...parts, 'instance'),
    seriesNumber: 9101,
    seriesDescription: 'Reference segmentation (manual annotation)',
    contentLabel: 'REFERENCE_SEG',
    contentDescription: `Manual reference labels: ${input.annotator}`,
    contentCreatorName: 'Reference^Annotation',
  });
}
