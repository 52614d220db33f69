/**
 * `npm run locate-eval` (after the build: node dist/bench/locate-eval.js): does the pipeline find the
 * heart anywhere? Synthetic cine-mri studies with the heart centred (the generator's default), off
 * centre by up to a third of the field of view, and fields of view from 250 to 480 mm, each scored
 * (mean Dice of LV, MYO, RV at ED and ES) with the heart located first (the default) and with the
 * old image-centre crop. `--set acquisition`: flipped/transposed images (with and without turning
 * them into the canonical display), partial coverage and slice thickness/gap, against the centred
 * case. Prints a markdown table (EVAL.md).
 *
 *   node dist/bench/locate-eval.js [--seeds 3] [--set location|acquisition] [--out bench/locate-eval.json]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evaluateCase, meanDice, synthCases } from '../src/pipeline/evaluate.js';
import { ModelRegistry } from '../src/model/registry.js';
import { loadModel } from '../src/pipeline/steps.js';
import { generateStudy, writeStudy, SYNTH_GROUPS, type SynthOptions } from '../src/synth/index.js';

const VARIANTS: Array<{ name: string; options: Partial<SynthOptions> }> = [
  { name: 'centred (default draw)', options: {} },
  { name: 'offset +0.33 x', options: { heartOffset: [0.33, 0] } },
  { name: 'offset -0.33 y', options: { heartOffset: [0, -0.33] } },
  { name: 'offset +0.25 x, +0.25 y', options: { heartOffset: [0.25, 0.25] } },
  { name: 'FOV 250 mm', options: { fovMm: 250 } },
  { name: 'FOV 480 mm', options: { fovMm: 480 } },
  { name: 'FOV 480 mm, offset -0.3 x', options: { fovMm: 480, heartOffset: [-0.3, 0] } },
  { name: 'pixel 0.7 mm', options: { pixelSpacingMm: 0.7 } },
  { name: 'pixel 2.5 mm', options: { pixelSpacingMm: 2.5 } },
];

/** What the comparison column runs: the old image-centre crop, or the images as stored (no reorientation). */
type Comparison = { locate: false } | { canonical: false };

const ACQUISITION_VARIANTS: Array<{ name: string; options: Partial<SynthOptions>; compare?: Comparison }> = [
  { name: 'centred (default draw)', options: {}, compare: { canonical: false } },
  { name: 'flip rows (top-bottom)', options: { flip: 'rows' }, compare: { canonical: false } },
  { name: 'flip columns (left-right)', options: { flip: 'columns' }, compare: { canonical: false } },
  { name: 'transposed', options: { flip: 'transpose' }, compare: { canonical: false } },
  { name: 'rotated 90°', options: { flip: 'rot90' }, compare: { canonical: false } },
  { name: 'rotated 180°', options: { flip: 'rot180' }, compare: { canonical: false } },
  { name: 'no apex (apical third not covered)', options: { coverage: 'no-apex' } },
  { name: 'no base (basal third not covered)', options: { coverage: 'no-base' } },
  { name: 'slices 5 mm, no gap', options: { sliceThicknessMm: 5, sliceGapMm: 0 } },
  { name: 'slices 8 mm, gap 2 mm', options: { sliceThicknessMm: 8, sliceGapMm: 2 } },
  { name: 'slices 10 mm, gap 0', options: { sliceThicknessMm: 10, sliceGapMm: 0 } },
  { name: 'slices 10 mm, gap 4 mm', options: { sliceThicknessMm: 10, sliceGapMm: 4 } },
];

async function acquisitionSet(seeds: number, out: string): Promise<void> {
  const model = await loadModel(new ModelRegistry(), undefined, 2);
  const dir = mkdtempSync(join(tmpdir(), 'pulse-acquisition-eval-'));
  const rows: Array<{ variant: string; dice: number; comparison: number | null; slices: number; n: number }> = [];
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  try {
    for (const variant of ACQUISITION_VARIANTS) {
      const dice: number[] = [];
      const compared: number[] = [];
      const slices: number[] = [];
      for (let k = 0; k < seeds; k++) {
        // Slices follow from the coverage and the spacing here (no fixed count), phases fixed.
        const fixed = variant.options.coverage || variant.options.sliceThicknessMm ? {} : { slices: 8 };
        const study = generateStudy({ seed: 75000 + k, group: SYNTH_GROUPS[k % SYNTH_GROUPS.length]!, phases: 10, ...fixed, ...variant.options });
        slices.push(study.truth.grid.slices);
        const folder = await writeStudy(dir, study);
        const [source] = await synthCases(folder);
        const c = await source!.load();
        dice.push(meanDice(await evaluateCase(c, model)));
        if (variant.compare) compared.push(meanDice(await evaluateCase(c, model, null, variant.compare)));
        rmSync(folder, { recursive: true, force: true });
      }
      rows.push({ variant: variant.name, dice: mean(dice), comparison: compared.length ? mean(compared) : null, slices: mean(slices), n: seeds });
      process.stderr.write(`${variant.name}: ${mean(dice).toFixed(3)}${compared.length ? `, as stored ${mean(compared).toFixed(3)}` : ''} (${mean(slices).toFixed(1)} slices)\n`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  writeFileSync(out, `${JSON.stringify(rows, null, 2)}\n`);
  const base = rows[0]!.dice;
  const lines = ['| study | slices (mean) | mean Dice | images as stored (no reorientation) | − centred case |', '| --- | --- | --- | --- | --- |'];
  for (const r of rows) lines.push(`| ${r.variant} | ${r.slices.toFixed(1)} | ${r.dice.toFixed(3)} | ${r.comparison === null ? '' : r.comparison.toFixed(3)} | ${(r.dice - base).toFixed(3)} |`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--seeds');
  const seeds = i >= 0 ? Number(process.argv[i + 1]) : 3;
  const o = process.argv.indexOf('--out');
  const set = process.argv.indexOf('--set');
  if (set >= 0 && process.argv[set + 1] === 'acquisition') {
    await acquisitionSet(seeds, o >= 0 ? process.argv[o + 1]! : 'bench/acquisition-eval.json');
    return;
  }
  const out = o >= 0 ? process.argv[o + 1]! : 'bench/locate-eval.json';
  const model = await loadModel(new ModelRegistry(), undefined, 2);
  const dir = mkdtempSync(join(tmpdir(), 'pulse-locate-eval-'));
  const rows: Array<{ variant: string; located: number; centreCrop: number; n: number }> = [];
  try {
    for (const variant of VARIANTS) {
      const located: number[] = [];
      const centred: number[] = [];
      for (let k = 0; k < seeds; k++) {
        const study = generateStudy({ seed: 75000 + k, group: SYNTH_GROUPS[k % SYNTH_GROUPS.length]!, slices: 8, phases: 10, ...variant.options });
        const folder = await writeStudy(dir, study);
        const [source] = await synthCases(folder);
        const c = await source!.load();
        located.push(meanDice(await evaluateCase(c, model)));
        centred.push(meanDice(await evaluateCase(c, model, null, { locate: false })));
        rmSync(folder, { recursive: true, force: true });
      }
      const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
      rows.push({ variant: variant.name, located: mean(located), centreCrop: mean(centred), n: seeds });
      process.stderr.write(`${variant.name}: located ${mean(located).toFixed(3)}, centre crop ${mean(centred).toFixed(3)}\n`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  writeFileSync(out, `${JSON.stringify(rows, null, 2)}\n`);
  const base = rows[0]!.located;
  const lines = ['| study | mean Dice, heart located | mean Dice, image-centre crop | located − centred case |', '| --- | --- | --- | --- |'];
  for (const r of rows) lines.push(`| ${r.variant} | ${r.located.toFixed(3)} | ${r.centreCrop.toFixed(3)} | ${(r.located - base).toFixed(3)} |`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
