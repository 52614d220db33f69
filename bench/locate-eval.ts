/**
 * `npm run locate-eval` (after the build: node dist/bench/locate-eval.js): does the pipeline find the
 * heart anywhere? Synthetic cine-mri studies with the heart centred (the generator's default), off
 * centre by up to a third of the field of view, and fields of view from 250 to 480 mm, each scored
 * (mean Dice of LV, MYO, RV at ED and ES) with the heart located first (the default) and with the
 * old image-centre crop. Prints a markdown table (EVAL.md).
 *
 *   node dist/bench/locate-eval.js [--seeds 3] [--out bench/locate-eval.json]
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

async function main(): Promise<void> {
  const i = process.argv.indexOf('--seeds');
  const seeds = i >= 0 ? Number(process.argv[i + 1]) : 3;
  const o = process.argv.indexOf('--out');
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
