/**
 * `npm run tta-eval` (after the build: node dist/bench/tta-eval.js): test-time flips measured on
 * labelled studies in one run. Every case goes through the production pipeline twice, without and
 * with TTA (src/model/tta.ts), the order alternating from case to case so that machine load and
 * warm-up fall on both alike; the cost ratio is the sum of the inference stage with TTA over the sum
 * without. Also records each case's per-structure disagreement (result.json's qc.uncertainty), from
 * which the uncertainty rule's threshold and its false alarms are read.
 *
 *   node dist/bench/tta-eval.js --source ../shared/data/acdc/training --split val [--out bench/tta-eval.json]
 *   node dist/bench/tta-eval.js --source <acdc dir> --split train --modes flips   (threshold reference)
 *   node dist/bench/tta-eval.js --synth 20 --modes flips                          (fresh synthetic studies)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSplit } from '../src/cli/commands/eval.js';
import { parseTta } from '../src/cli/tta-option.js';
import { ModelRegistry } from '../src/model/registry.js';
import type { TtaMode } from '../src/model/tta.js';
import { acdcCases, evaluateCase, meanDice, summarise, synthCases, type CaseResult, type CaseSource } from '../src/pipeline/evaluate.js';
import { loadModel } from '../src/pipeline/steps.js';
import { generateStudy, SYNTH_GROUPS, writeStudy } from '../src/synth/index.js';

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const source = option('source');
  const split = option('split');
  const synth = Number(option('synth') ?? 0);
  const modes = (option('modes') ?? 'none,flips').split(',').map((m) => parseTta(m, '--modes'));
  const out = option('out') ?? 'bench/tta-eval.json';
  const model = await loadModel(new ModelRegistry(), undefined, 2);
  const dir = mkdtempSync(join(tmpdir(), 'pulse-tta-eval-'));
  const cases: CaseSource[] = [];
  if (source) cases.push(...(await acdcCases(source, split ? readSplit(split) : undefined)));
  for (let k = 0; k < synth; k++) {
    // Fresh seeds, used for nothing else (qc-eval uses 74000+ and 76000+).
    const study = generateStudy({ seed: 78000 + k, group: SYNTH_GROUPS[k % SYNTH_GROUPS.length]!, domain: 'cine-mri', phases: 16 });
    const [c] = await synthCases(await writeStudy(dir, study));
    cases.push(c!);
  }
  const results: Record<TtaMode, CaseResult[]> = { none: [], flips: [] };
  try {
    for (const [index, c] of cases.entries()) {
      const loaded = await c.load();
      const order = index % 2 === 0 ? modes : [...modes].reverse();
      for (const tta of order) results[tta].push(await evaluateCase(loaded, model, null, { tta }));
      const f = results.flips.at(-1);
      process.stderr.write(`${index + 1}/${cases.length} ${c.id}${f?.qc.uncertainty ? ` disagreement ${JSON.stringify(f.qc.uncertainty.disagreement)} ${f.qc.status}` : ''}\n`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const kind = source ? 'acdc' : 'synth';
  const summaries = Object.fromEntries(modes.map((m) => [m, summarise(results[m], model.manifest, kind)]));
  const sum = (rs: CaseResult[], stage: string) => rs.reduce((a, r) => a + (r.timingsMs[stage] ?? 0), 0);
  const costRatio = modes.length === 2 ? { inference: sum(results.flips, 'inference') / sum(results.none, 'inference'), pipeline: (['preprocess', 'inference', 'postprocess'] as const).reduce((a, s) => a + sum(results.flips, s), 0) / (['preprocess', 'inference', 'postprocess'] as const).reduce((a, s) => a + sum(results.none, s), 0) } : undefined;
  const row = (r: CaseResult) => ({ meanDice: meanDice(r), dice: r.dice, lvef: { truth: r.truth.lvef_pct, predicted: r.predicted.lvef_pct }, rvef: { truth: r.truth.rvef_pct, predicted: r.predicted.rvef_pct }, status: r.qc.status, reasons: r.qc.reasons });
  const cases_ = cases.map((c, i) => ({
    id: c.id,
    ...(results.flips[i] ? { disagreement: results.flips[i]!.qc.uncertainty?.disagreement ?? null } : {}),
    ...Object.fromEntries(modes.map((m) => [m, row(results[m][i]!)])),
  }));
  const report = {
    command: `node dist/bench/tta-eval.js ${process.argv.slice(2).join(' ')}`,
    model: { name: model.manifest.name, version: model.manifest.version },
    modes,
    costRatio,
    summaries: Object.fromEntries(Object.entries(summaries).map(([m, s]) => [m, { dice: s.dice, hd95Mm: s.hd95Mm, measurements: s.measurements, diagnosis: { accuracy: s.diagnosis.accuracy }, qc: s.qc, medianTimingsMs: s.medianTimingsMs }])),
    cases: cases_,
  };
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify({ costRatio, dice: Object.fromEntries(Object.entries(summaries).map(([m, s]) => [m, s.dice])) }, null, 1)}\n`);
}

await main();
