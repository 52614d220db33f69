/**
 * What the writers will demand of a study, checked before the model runs: a study they cannot
 * write for fails at once as bad input naming the attribute, never as an internal error after a
 * minute of inference. The writers check the same things again (they are public builders).
 */
import type { CineStudy } from '../study/types.js';
import { BadInputError } from '../core/errors.js';
import { checkSegmentationContext } from './seg/sop.js';
import { checkReferencedUid } from './modules/sop-class.js';

const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-4;

export function preflightDerivedObjects(study: CineStudy): void {
  const { context, grid } = study;
  const uid = context.studyInstanceUID;
  checkReferencedUid(uid, 'StudyInstanceUID', uid);
  checkReferencedUid(context.seriesInstanceUID, 'SeriesInstanceUID', uid);
  checkSegmentationContext(context);
  const first = grid.images[0]?.[0];
  if (!first) throw new BadInputError('the cine grid holds no image', uid);
  const reference = first.plane;
  grid.images.forEach((row, s) =>
    row.forEach((image, p) => {
      checkReferencedUid(image.sopInstanceUID, `SOPInstanceUID (slice ${s}, phase ${p})`, uid);
      checkReferencedUid(image.sopClassUID, `SOPClassUID (slice ${s}, phase ${p})`, uid);
      checkReferencedUid(image.seriesInstanceUID, `SeriesInstanceUID (slice ${s}, phase ${p})`, uid);
      const plane = image.plane;
      if (plane.rows !== reference.rows || plane.columns !== reference.columns) throw new BadInputError(`Rows/Columns differ within the stack (slice ${s}, phase ${p}): one SEG needs one grid`, uid);
      if (!plane.pixelSpacing.every((v, i) => close(v, reference.pixelSpacing[i]!))) throw new BadInputError(`PixelSpacing differs within the stack (slice ${s}, phase ${p}): one SEG needs one grid`, uid);
      if (!plane.imageOrientationPatient.every((v, i) => close(v, reference.imageOrientationPatient[i]!))) throw new BadInputError(`ImageOrientationPatient differs within the stack (slice ${s}, phase ${p}): one SEG needs one grid`, uid);
    }),
  );
  if (grid.slices < 2 && reference.sliceThickness === undefined) throw new BadInputError('SliceThickness is missing on a single-slice stack: the SEG pixel measures need it', uid);
}
