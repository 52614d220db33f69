/**
 * `npm run coverage-eval` (after the build: node dist/bench/coverage-eval.js): the measurements
 * behind the stack-coverage and image-noise quality-control rules (docs/quality-control.md).
 *
 * Runs ACDC patients clean and perturbed (pipeline/perturb.ts: apex or base missing, Rician noise)
 * and synthetic studies (full coverage, without the apex, without the base) through the production
 * steps, and keeps per case what the rules read: the structure areas of every slice at ED (predicted
 * and expert), the image-quality statistics, the QC result and the LVEF/LV EDV errors.
 *
 *   node dist/bench/coverage-eval.js [--source ../shared/data/acdc/training] [--patients all|val]
 *       [--conditions clean,no-apex,no-base,noise-0.08] [--synth 12] [--seed 14] [--out bench/coverage-eval.json]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { phaseAreas } from '../src/analysis/areas.js';
import { imageNoiseStatistics, sliceSpacing } from '../src/analysis/quality-control.js';
import { acdcCases, evaluateCase, meanDice, synthCases, type CaseResult, type CaseSource } from '../src/pipeline/evaluate.js';
import { perturbStack, perturbationsNamed, ricianNoiseStack, type Perturbation } from '../src/pipeline/perturb.js';
import { loadModel, type StudyRun } from '../src/pipeline/steps.js';
import { ModelRegistry } from '../src/model/registry.js';
import { generateStudy, writeStudy, SYNTH_GROUPS, type SynthCoverage } from '../src/synth/index.js';
import type { LabelMap } from '../src/study/types.js';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}

interface Row {
  readonly source: 'acdc' | 'synth';
  readonly condition: string;
  readonly id: string;
  readonly group: string;
  readonly meanDice: number;
  readonly lvef: { truth: number; predicted: number };
  readonly lvedv: { truth: number; predicted: number };
  readonly qc: { status: string; reasons: readonly string[]; metrics: Readonly<Record<string, number>> };
  /** Per slice at ED, mm²: predicted and expert areas of each structure. */
  readonly areasEd: { predicted: ReturnType<typeof phaseAreas>; truth: ReturnType<typeof phaseAreas> };
  readonly noise: ReturnType<typeof imageNoiseStatistics>;
  /** Median distance between neighbouring slice positions (mm). */
  readonly sliceSpacingMm: number;
}

/** 'rician-0.05': Rician noise at another strength than the robustness table's noise-0.08 (where accuracy starts to fall). */
function customNoise(condition: string): Perturbation | undefined {
  const m = /^rician-([0-9.]+)$/u.exec(condition);
  if (!m) return undefined;
  const fraction = Number(m[1]);
  return { name: condition, description: `Rician noise, σ ${fraction * 100} % of the 99th percentile`, apply: (s, random) => ricianNoiseStack(s, fraction, random) };
}

/**
 * Per source and condition: studies, how many the coverage and noise rules flag, how many quality
 * control flags in all (any review or fail), the largest and smallest rule metrics, and the LVEF error.
 */
export function summarise(rows: readonly Row[]): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const key of [...new Set(rows.map((r) => `${r.source} ${r.condition}`))]) {
    const group = rows.filter((r) => `${r.source} ${r.condition}` === key);
    const has = (r: Row, text: RegExp) => r.qc.reasons.some((reason) => text.test(reason));
    const metric = (name: string) => group.map((r) => r.qc.metrics[name]).filter((v): v is number => typeof v === 'number');
    const range = (values: number[]) => (values.length ? [Math.min(...values), Math.max(...values)].map((v) => Math.round(v * 1000) / 1000) : null);
    const efError = group.map((r) => Math.abs(r.lvef.predicted - r.lvef.truth)).filter(Number.isFinite);
    out[key] = {
      studies: group.length,
      apexNotCovered: group.filter((r) => has(r, /cut at the apical end/)).length,
      baseNotCovered: group.filter((r) => has(r, /cut at the basal end/)).length,
      noisyImages: group.filter((r) => has(r, /images are noisy/)).length,
      flagged: group.filter((r) => r.qc.status !== 'pass').length,
      flaggedWithoutTheseRules: group.filter((r) => r.qc.reasons.some((reason) => !/cut at the (apical|basal) end|images are noisy/.test(reason))).length,
      passedWithLvefErrorOver5: group.filter((r) => r.qc.status === 'pass' && Math.abs(r.lvef.predicted - r.lvef.truth) > 5).length,
      lvefMae: efError.length ? Math.round((efError.reduce((s, v) => s + v, 0) / efError.length) * 100) / 100 : null,
      apexEndRatio: range(metric('apex_end_ratio')),
      lengthToDiameter: range(metric('length_to_diameter')),
      noiseRel: range(metric('noise_rel')),
    };
  }
  return out;
}

async function main(): Promise<void> {
  const source = option('source', '../shared/data/acdc/training');
  const patients = option('patients', 'all');
  const conditions = option('conditions', 'clean,no-apex,no-base,noise-0.08').split(',').filter(Boolean);
  const synth = Number(option('synth', '12'));
  const seed = Number(option('seed', '14'));
  const out = option('out', 'bench/coverage-eval.json');
  const model = await loadModel(new ModelRegistry(), undefined, 2);
  const labelValues = Object.fromEntries(model.manifest.segments.map((s) => [s.key, s.labelValue]));
  const rows: Row[] = [];

  const measure = async (caseSource: CaseSource, kind: 'acdc' | 'synth', condition: string): Promise<void> => {
    const c = await caseSource.load();
    let seen: { run: StudyRun; truth: LabelMap[][] } | undefined;
    const r: CaseResult = await evaluateCase(c, model, null, { onRun: (run, truth) => void (seen = { run, truth }) });
    const { run, truth } = seen!;
    const ed = r.phases.truth.ed;
    const truthValues = Object.fromEntries(Object.entries(c.truthLabelValues));
    rows.push({
      source: kind,
      condition,
      id: r.id,
      group: r.group,
      meanDice: meanDice(r),
      lvef: { truth: r.truth.lvef_pct ?? Number.NaN, predicted: r.predicted.lvef_pct ?? Number.NaN },
      lvedv: { truth: r.truth.lvedv_ml ?? Number.NaN, predicted: r.predicted.lvedv_ml ?? Number.NaN },
      qc: { status: run.qc.status, reasons: run.qc.reasons, metrics: run.qc.metrics },
      areasEd: { predicted: phaseAreas(run.segmentation.labelMaps, ed, labelValues), truth: phaseAreas(truth, ed, truthValues) },
      noise: imageNoiseStatistics(run.segmentation.labelMaps, ed, labelValues),
      sliceSpacingMm: sliceSpacing(run.study.grid.slicePositionsMm),
    });
    process.stderr.write(`${kind} ${condition} ${r.id}: ${run.qc.status} dice ${meanDice(r).toFixed(3)}\n`);
  };

  // ACDC patients, clean and perturbed.
  const split = patients === 'all' ? undefined : (JSON.parse(await readFile('training/splits.json', 'utf8')) as Record<string, string[]>)[patients];
  for (const condition of conditions) {
    const perturbation = condition === 'clean' ? undefined : customNoise(condition) ?? perturbationsNamed([condition])[0]!;
    const cases = await acdcCases(source, split, perturbation ? (stack, id) => perturbStack(stack, perturbation, seed, id) : undefined);
    for (const c of cases) await measure(c, 'acdc', condition);
  }

  // Synthetic cine-mri studies, fresh seeds, each at full coverage and without either end.
  const dir = mkdtempSync(join(tmpdir(), 'pulse-coverage-eval-'));
  try {
    for (let k = 0; k < synth; k++) {
      for (const coverage of ['full', 'no-apex', 'no-base'] as SynthCoverage[]) {
        const study = generateStudy({ seed: 78000 + k, group: SYNTH_GROUPS[k % SYNTH_GROUPS.length]!, domain: 'cine-mri', phases: 12, coverage });
        const folder = await writeStudy(dir, study);
        const [s] = await synthCases(folder);
        await measure(s!, 'synth', coverage === 'full' ? 'clean' : coverage);
        rmSync(folder, { recursive: true, force: true });
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const summary = summarise(rows);
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  // One row per line, numbers to 4 decimals (whole above 100: areas in mm²): the file stays small enough to keep beside the docs.
  const round = (_key: string, v: unknown) => (typeof v === 'number' ? (Math.abs(v) >= 100 ? Math.round(v) : Math.round(v * 1e4) / 1e4) : v);
  const head = { command: `node dist/bench/coverage-eval.js ${process.argv.slice(2).join(' ')}`.trim(), date: new Date().toISOString().slice(0, 10), seed, model: `${model.manifest.name} ${model.manifest.version}`, summary };
  writeFileSync(out, `${JSON.stringify(head, round, 1).replace(/\n\}$/u, ',')}\n "rows": [\n${rows.map((r) => JSON.stringify(r, round)).join(',\n')}\n ]\n}\n`);
}

await main();
