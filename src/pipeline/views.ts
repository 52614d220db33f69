/**
 * The dashboard's views of one processed study: the LV and RV cavity volume curves over the cardiac
 * cycle and the mid-ventricular slice at ED and ES with contours, drawn by the overlay renderer and
 * encoded as PNG. Pure: the study run in, data out.
 */
import type { StudyViews } from '../core/result.js';
import { midVentricularSlice } from '../dicom/overlay/sop.js';
import { encodePng } from '../dicom/overlay/png.js';
import { createImage, drawContour, drawGrey } from '../dicom/overlay/raster.js';
import type { StudyRun } from './steps.js';

/** Thumbnails at most this wide (source pixels are enlarged by a whole factor up to it). */
const THUMBNAIL_WIDTH = 256;

export function buildStudyViews(run: StudyRun): StudyViews {
  const { analysis, segmentation, model } = run;
  const volumeCurves: Record<string, number[]> = {};
  for (const key of ['lv', 'rv']) {
    const curve = analysis.volumesMl[key];
    if (curve) volumeCurves[key] = curve.map((v) => Math.round(v * 10) / 10);
  }
  const { ed, es } = analysis.phases;
  const segments = model.manifest.segments;
  const slice = midVentricularSlice(segmentation.labelMaps, ed, segments.find((s) => s.key === 'lv')?.labelValue);
  const draw = (phase: number): Uint8Array | undefined => {
    const map = segmentation.labelMaps[slice]?.[phase];
    if (!map) return undefined;
    const { rows, columns } = map.image.plane;
    const scale = Math.max(1, Math.floor(THUMBNAIL_WIDTH / Math.max(rows, columns)));
    const image = createImage(columns * scale, rows * scale);
    drawGrey(image, map.image.pixels, rows, columns, scale);
    for (const segment of segments) drawContour(image, map.labels, rows, columns, segment.labelValue, scale, segment.color);
    return encodePng(image);
  };
  const edPng = draw(ed);
  const esPng = draw(es);
  return { volumeCurves, ...(edPng && esPng ? { thumbnails: { slice, ed: edPng, es: esPng } } : {}) };
}
