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

export interface ReferenceSegInput {
  /** The image instances the labels lie on (Part 10 bytes). */
  readonly instances: readonly StudyInstance[];
  /** Label map per SOP Instance UID, rows x columns, the manifest's label values. */
  readonly labels: ReadonlyMap<string, Uint8Array>;
  /** Supplies the segment definitions (labels, names, codes, colours). */
  readonly manifest: LoadedManifest;
  /** Who made the labels, e.g. 'ACDC expert annotation'. */
  readonly annotator: string;
}

/** Builds the MANUAL SEG over every phase that has labels; UIDs depend only on the source series. */
export function buildReferenceSegmentation(input: ReferenceSegInput): BuiltSegmentation {
  // Imported NIfTI volumes are often axis-aligned, so no short-axis orientation rule here.
  const study = readStudy(input.instances, { orientation: 'any' });
  const { grid, context } = study;
  const labelMaps: Array<Array<LabelMap | undefined>> = grid.images.map((row) =>
    row.map((image) => {
      const labels = input.labels.get(image.sopInstanceUID);
      return labels === undefined ? undefined : { image, labels };
    }),
  );
  const phases = [...Array(grid.phases).keys()].filter((p) => labelMaps.some((row) => row[p] !== undefined));
  if (phases.length === 0) throw new BadInputError('no label map matches an image of the series', context.studyInstanceUID);
  for (const p of phases) {
    const missing = labelMaps.findIndex((row) => row[p] === undefined);
    if (missing >= 0) throw new BadInputError(`phase ${p} has labels on some slices but not on slice ${missing}`, context.studyInstanceUID);
  }
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
