/**
 * `npm run qc-eval` (after the build: node dist/bench/qc-eval.js): measures quality control honestly.
 *
 * 1. False alarms on fresh cine-mri synthetic studies (seeds never used for anything else): a
 *    review or fail on a study whose mean Dice is good counts as a false alarm.
 * 2. Deliberately broken inputs: garbage in the last third of half the files' pixel data, slice
 *    positions scrambled, a non-cardiac stack, noise, and the shifted appearance domains without
 *    calibration (vendor-shifted MRI, echo-like, CT-like, the latter as modality CT). None may pass.
 *
 *   node dist/bench/qc-eval.js [--fresh 20] [--broken 4] [--out bench/qc-eval.json]
 *
 * The ACDC validation figure comes from `pulse eval --split val` (its QC section).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evaluateCase, meanDice, synthCases, GOOD_DICE } from '../src/pipeline/evaluate.js';
import { loadModel, runStudy } from '../src/pipeline/steps.js';
import { BROKEN_KINDS, breakStudy } from '../src/synth/broken.js';
import { generateStudy, writeStudy, SYNTH_GROUPS, type SynthDomain } from '../src/synth/index.js';
import { ModelRegistry } from '../src/model/registry.js';

function argument(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

async function main(): Promise<void> {
  const fresh = argument('fresh', 20);
  const brokenStudies = argument('broken', 4);
  const outIndex = process.argv.indexOf('--out');
  const out = outIndex >= 0 ? process.argv[outIndex + 1]! : 'bench/qc-eval.json';
  const model = await loadModel(new ModelRegistry(), undefined, 2);
  const dir = mkdtempSync(join(tmpdir(), 'pulse-qc-eval-'));
  try {
    // 1. Fresh cine-mri studies.
    const freshRows: Array<{ id: string; dice: number; minDice: number; lvefError: number; status: string; ood: number | null; reasons: readonly string[] }> = [];
    for (let k = 0; k < fresh; k++) {
      const study = generateStudy({ seed: 76000 + k, group: SYNTH_GROUPS[k % SYNTH_GROUPS.length]!, domain: 'cine-mri', phases: 16 });
      const folder = await writeStudy(dir, study);
      const [source] = await synthCases(folder);
      const r = await evaluateCase(await source!.load(), model);
      const all = (['ed', 'es'] as const).flatMap((p) => Object.values(r.dice[p])).filter((v): v is number => typeof v === 'number');
      freshRows.push({ id: r.id, dice: meanDice(r), minDice: Math.min(...all), lvefError: Math.abs((r.predicted.lvef_pct ?? 0) - (r.truth.lvef_pct ?? 0)), status: r.qc.status, ood: r.qc.ood, reasons: r.qc.reasons });
      rmSync(folder, { recursive: true, force: true });
      process.stderr.write(`fresh ${k + 1}/${fresh}: ${r.qc.status}\n`);
    }
    const good = freshRows.filter((r) => r.dice >= GOOD_DICE);
    const falseAlarms = good.filter((r) => r.status !== 'pass');
    // Stricter: every structure at ED and ES with Dice >= GOOD_DICE.
    const allGood = freshRows.filter((r) => r.minDice >= GOOD_DICE);
    const strictFalseAlarms = allGood.filter((r) => r.status !== 'pass');

    // 2. Broken inputs.
    // A broken input whose numbers stay those of the intact study (LVEF within 5 points, LV and RV EDV
    // within 10 %) is not implausible; one whose numbers moved must not pass.
    const brokenRows: Array<{ kind: string; seed: number; status: string; numbersMoved: boolean; ood: number | null; reasons: readonly string[] }> = [];
    const domains: SynthDomain[] = ['vendor-shifted-mri', 'echo-like', 'ct-like'];
    for (let k = 0; k < brokenStudies; k++) {
      const seed = 74000 + k;
      const options = { seed, group: SYNTH_GROUPS[k % SYNTH_GROUPS.length]!, slices: 8, phases: 12 };
      const intact = generateStudy(options);
      const intactRun = await runStudy(intact.files.map((f) => ({ source: f.name, bytes: f.bytes })), model);
      const reference = intactRun.analysis.measurements;
      const variants: Array<[string, ReadonlyArray<{ name: string; bytes: Uint8Array }>]> = [
        ...BROKEN_KINDS.map((kind): [string, ReadonlyArray<{ name: string; bytes: Uint8Array }>] => [kind, breakStudy(intact.files, kind, seed)]),
        ...domains.map((domain): [string, ReadonlyArray<{ name: string; bytes: Uint8Array }>] => [`domain:${domain}`, generateStudy({ ...options, domain }).files]),
      ];
      for (const [kind, files] of variants) {
        try {
          const run = await runStudy(files.map((f) => ({ source: f.name, bytes: f.bytes })), model, { seriesRules: { orientation: 'any' } });
          const m = run.analysis.measurements;
          const moved = Math.abs(m.lvef_pct - reference.lvef_pct) > 5 || Math.abs(m.lvedv_ml - reference.lvedv_ml) > 0.1 * reference.lvedv_ml || Math.abs(m.rvedv_ml - reference.rvedv_ml) > 0.1 * reference.rvedv_ml;
          // Noise, a non-cardiac stack and a foreign domain have no intact numbers to keep: always implausible.
          const numbersMoved = moved || kind === 'noise' || kind === 'non-cardiac' || kind.startsWith('domain:');
          brokenRows.push({ kind, seed, status: run.qc.status, numbersMoved, ood: run.qc.ood, reasons: run.qc.reasons });
        } catch (error) {
          // Refused before any result: as good as a fail (no findings reach anyone).
          brokenRows.push({ kind, seed, status: 'refused', numbersMoved: false, ood: null, reasons: [(error as Error).message] });
        }
        process.stderr.write(`broken ${kind} ${seed}: ${brokenRows.at(-1)!.status}\n`);
      }
    }
    const passed = brokenRows.filter((r) => r.status === 'pass');
    const implausiblePassed = passed.filter((r) => r.numbersMoved);
    const summary = {
      fresh: {
        studies: freshRows.length,
        good: good.length,
        falseAlarms: falseAlarms.length,
        falseAlarmRate: good.length ? falseAlarms.length / good.length : 0,
        allStructuresGood: allGood.length,
        strictFalseAlarms: strictFalseAlarms.length,
        strictFalseAlarmRate: allGood.length ? strictFalseAlarms.length / allGood.length : 0,
        byStatus: count(freshRows.map((r) => r.status)),
      },
      broken: { studies: brokenRows.length, passed: passed.length, implausiblePassed: implausiblePassed.length, byKind: Object.fromEntries([...new Set(brokenRows.map((r) => r.kind))].map((kind) => [kind, count(brokenRows.filter((r) => r.kind === kind).map((r) => r.status))])) },
      freshRows,
      brokenRows,
    };
    writeFileSync(out, `${JSON.stringify(summary, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify({ fresh: summary.fresh, broken: summary.broken }, null, 2)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function count(values: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

await main();
