/**
 * Dumps, per ACDC patient, the ED/ES label maps the production pipeline predicts (runStudy: the same
 * reading, heart location, orientation, inference and clean-up as `pulse infer`/`pulse eval`) and the
 * expert ED/ES label maps on the same image grids, so that the diagnosis head can be studied and
 * fitted on exactly the masks the service produces (training/pulse_lite/head_cv.py reads the dump).
 *
 *   node dist/bench/head-features.js [--source ../shared/data/acdc/training] [--out training/runs/head-features]
 *                                    [--model models/pulse-lite/manifest.json] [--patients patient001,...]
 *
 * Per patient <id>.json (group, grid shape [slices, rows, columns], PixelSpacing, slab thickness per
 * slice, height/weight, the pipeline's feature vector and diagnosis) and <id>.bin (uint8: predicted ED,
 * predicted ES, expert ED, expert ES, each [slices, rows, columns], in the manifest's label values).
 * The output folder is a cache (training/runs/ is ignored by git).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { slabThicknessesMm } from '../src/analysis/conventions.js';
import { acdcCases } from '../src/pipeline/evaluate.js';
import { ModelRegistry } from '../src/model/registry.js';
import { loadModel, runStudy } from '../src/pipeline/steps.js';
import type { CineStudy } from '../src/study/types.js';

const { values } = parseArgs({
  options: {
    source: { type: 'string', default: resolve('..', 'shared', 'data', 'acdc', 'training') },
    out: { type: 'string', default: join('training', 'runs', 'head-features') },
    model: { type: 'string' },
    patients: { type: 'string' },
  },
});

function phaseOf(study: CineStudy, instances: ReadonlySet<string>, what: string): number {
  for (const row of study.grid.images) {
    for (let p = 0; p < row.length; p++) if (instances.has(row[p]!.sopInstanceUID)) return p;
  }
  throw new Error(`no image of the chosen series is the labelled ${what} frame`);
}

async function main(): Promise<void> {
  const only = values.patients?.split(',').map((p) => p.trim()).filter(Boolean);
  const sources = await acdcCases(values.source!, only);
  mkdirSync(values.out!, { recursive: true });
  const models = new ModelRegistry();
  const model = await loadModel(models, values.model, 2);
  const labelOf = Object.fromEntries(model.manifest.segments.map((s) => [s.key, s.labelValue]));
  const started = Date.now();
  try {
    for (const source of sources) {
      const c = await source.load();
      const knownPhases = (study: CineStudy) => ({ ed: phaseOf(study, c.edInstances, 'ED'), es: phaseOf(study, c.esInstances, 'ES') });
      const run = await runStudy(c.instances, model, { knownPhases, ...(c.seriesRules ? { seriesRules: c.seriesRules } : {}) });
      const { study, segmentation, analysis } = run;
      const { ed, es } = knownPhases(study);
      const first = study.grid.images[0]![0]!.plane;
      const { rows, columns } = first;
      const n = rows * columns;
      const table = new Uint8Array(256);
      for (const [key, value] of Object.entries(c.truthLabelValues)) if (labelOf[key] !== undefined) table[value] = labelOf[key]!;
      const slices = study.grid.slices;
      const bytes = new Uint8Array(4 * slices * n);
      study.grid.images.forEach((row, s) => {
        for (const [block, phase, predicted] of [[0, ed, true], [1, es, true], [2, ed, false], [3, es, false]] as const) {
          const image = row[phase]!;
          if (image.plane.rows !== rows || image.plane.columns !== columns) throw new Error(`${c.id}: images of different sizes`);
          const labels = predicted ? segmentation.labelMaps[s]![phase]!.labels : c.truthLabels.get(image.sopInstanceUID)!.map((v) => table[v]!);
          bytes.set(labels, (block * slices + s) * n);
        }
      });
      writeFileSync(join(values.out!, `${c.id}.bin`), bytes);
      const features = Object.fromEntries(analysis.features.names.map((name, i) => [name, analysis.features.raw[i]!]));
      writeFileSync(
        join(values.out!, `${c.id}.json`),
        `${JSON.stringify({
          id: c.id,
          group: c.group,
          model: `${model.manifest.name}@${model.manifest.version}`,
          shape: [slices, rows, columns],
          pixelSpacing: first.pixelSpacing,
          slabsMm: slabThicknessesMm(study.grid.slicePositionsMm, first.sliceThickness),
          heightCm: study.context.patientSizeM !== undefined ? study.context.patientSizeM * 100 : null,
          weightKg: study.context.patientWeightKg ?? null,
          phases: { ed, es },
          features,
          predicted: analysis.diagnosis.label,
          probabilities: analysis.diagnosis.probabilities,
        })}\n`,
      );
      process.stderr.write(`${c.id} ${c.group} -> ${analysis.diagnosis.label} (${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
    }
  } finally {
    await models.close();
  }
  if (!existsSync(values.out!)) throw new Error('nothing written');
}

await main();
