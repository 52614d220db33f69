/** Quality-control input from a study's files and label maps chosen by the test (the rules read the segmentation, so truth isolates them). */
import assert from 'node:assert/strict';
import type { QualityControlInput } from '../../src/analysis/quality-control.js';
import { readStudy } from '../../src/study/read-study.js';
import type { LabelMap, SourceImage } from '../../src/study/types.js';
import { generateStudy, type SynthOptions } from '../../src/synth/index.js';

export const plausible = { lvedv_ml: 150, lvesv_ml: 60, lvsv_ml: 90, lvef_pct: 60, lv_mass_g: 120, rvedv_ml: 160, rvesv_ml: 75, rvef_pct: 53 };

/** The study as the pipeline reads it, with label maps from `labelOf` (by SOP Instance UID) and ED from the labelled instances. */
export function qcInputOf(files: ReadonlyArray<{ name: string; bytes: Uint8Array }>, labelOf: (sop: string) => Uint8Array | undefined, edInstances: ReadonlySet<string>, labelValues: Record<string, number>, pixels?: (image: SourceImage) => SourceImage['pixels']): QualityControlInput {
  const study = readStudy(files.map((f) => ({ source: f.name, bytes: f.bytes })), { orientation: 'any' });
  const labelMaps: LabelMap[][] = study.grid.images.map((row) =>
    row.map((image) => {
      const labels = labelOf(image.sopInstanceUID);
      if (!labels) throw new Error(`no label map for ${image.sopInstanceUID}`);
      return { image: pixels ? { ...image, pixels: pixels(image) } : image, labels };
    }),
  );
  const ed = study.grid.images[0]!.findIndex((_, p) => study.grid.images.some((row) => edInstances.has(row[p]!.sopInstanceUID)));
  assert.ok(ed >= 0, 'the labelled ED phase is in the grid');
  return { grid: study.grid, labelMaps, labelValues, phases: { ed, es: ed === 0 ? 1 : 0 }, lvVolumeCurveMl: [], measurements: plausible, phasesGiven: true };
}

/** A synthetic study's truth label maps as the segmentation. */
export function synthInput(options: SynthOptions, pixels?: (image: SourceImage) => SourceImage['pixels']): QualityControlInput {
  const s = generateStudy(options);
  const ed = new Set(s.truth.labels.instances.filter((i) => i.phase === s.truth.phases.ed).map((i) => i.sopInstanceUID as string));
  return qcInputOf(s.files, (sop) => s.labels.get(sop as Parameters<typeof s.labels.get>[0]), ed, { lv: s.truth.labelValues.LV, myo: s.truth.labelValues.MYO, rv: s.truth.labelValues.RV }, pixels);
}

