/**
 * `pulse eval --source <dir>`: the production pipeline over a labelled set (synthetic studies or
 * ACDC patients), with Dice, HD95, measurement errors and diagnosis metrics.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { integerOption } from '../integer-option.js';
import cliProgress from 'cli-progress';
import { acdcCases, evaluateCase, meanDice, metricsMarkdown, summarise, synthCases, type CaseResult, type CaseSource, type EvalMetrics } from '../../pipeline/evaluate.js';
import { ModelRegistry } from '../../model/registry.js';
import { loadModel, type LoadedModel } from '../../pipeline/steps.js';
import { PERTURBATIONS, perturbationsNamed, perturbStack } from '../../pipeline/perturb.js';
import { robustnessMarkdown, robustnessRows, type RobustnessCondition, type RobustnessRow } from '../../pipeline/robustness.js';
import type { CalibrationProfile } from '../../calibration/profile.js';
import { resolveCalibration } from './calibration-option.js';
import { parseTta, TTA_OPTION_HELP } from '../tta-option.js';

export interface EvalOptions {
  source: string;
  kind?: 'synth' | 'acdc';
  patients?: string;
  split?: string;
  out?: string;
  markdown?: string;
  model?: string;
  threads?: number;
  data?: string;
  calibration?: string;
  /** Test-time augmentation: 'none' (default) or 'flips' (src/model/tta.ts). */
  tta?: string;
  /** Perturbations to evaluate besides the clean cases (pipeline/perturb.ts; 'all' = every one): a robustness table. */
  perturb?: string[];
  /** Seed of the perturbations' random draws (noise, bias field). */
  seed?: number;
  /** Suppress the progress bar (tests, logs). */
  quiet?: boolean;
}

/** training/splits.json: beside the working directory's project, or this installation's. */
export function readSplit(name: string): string[] {
  const candidates = [resolve('training', 'splits.json')];
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++, dir = dirname(dir)) candidates.push(join(dir, 'training', 'splits.json'));
  const path = candidates.find((p) => existsSync(p));
  if (!path) throw new Error('training/splits.json not found (written by the training recipe)');
  const splits = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  // 'all': every patient of the splits (what a network trained on all of them saw)
  if (name === 'all') return [...readSplit('train'), ...readSplit('validation')].sort();
  const key = name === 'val' ? 'validation' : name;
  const list = splits[key];
  if (!Array.isArray(list) || !list.every((p) => typeof p === 'string')) throw new Error(`${path} has no '${key}' list`);
  return list as string[];
}

function detectKind(source: string): 'synth' | 'acdc' {
  if (existsSync(join(source, 'truth.json'))) return 'synth';
  if (existsSync(join(source, 'Info.cfg'))) return 'acdc';
  if (existsSync(join(source, 'patient001')) || /acdc/i.test(source)) return 'acdc';
  return 'synth';
}

function kindOf(options: EvalOptions): 'synth' | 'acdc' {
  if (!existsSync(options.source)) throw new Error(`--source ${options.source} does not exist`);
  const kind = options.kind ?? detectKind(options.source);
  if (kind !== 'synth' && kind !== 'acdc') throw new Error(`--kind must be synth or acdc, got '${String(kind)}'`);
  parseTta(options.tta ?? 'none', '--tta'); // a wrong --tta is refused before the model loads
  return kind;
}

function chosenCases(options: EvalOptions): string[] | undefined {
  return options.patients ? options.patients.split(',').map((p) => p.trim()).filter(Boolean) : options.split ? readSplit(options.split) : undefined;
}

/** Every case of `sources` through the pipeline, one loaded at a time, with a progress bar unless quiet. */
async function evaluateSources(sources: readonly CaseSource[], model: LoadedModel, calibration: CalibrationProfile | null, options: EvalOptions, label = ''): Promise<CaseResult[]> {
  const tta = parseTta(options.tta ?? 'none', '--tta');
  const bar = options.quiet ? undefined : new cliProgress.SingleBar({ format: `eval${label ? ` ${label}` : ''} [{bar}] {value}/{total} {case}`, stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic);
  bar?.start(sources.length, 0, { case: '' });
  const results: CaseResult[] = [];
  try {
    for (const source of sources) {
      bar?.update(results.length, { case: source.id });
      results.push(await evaluateCase(await source.load(), model, calibration, { tta }));
    }
    bar?.update(results.length, { case: 'done' });
  } finally {
    bar?.stop();
  }
  return results;
}

export async function runEval(options: EvalOptions, command = 'pulse eval'): Promise<EvalMetrics> {
  const kind = kindOf(options);
  const only = chosenCases(options);
  const sources: CaseSource[] = kind === 'acdc' ? await acdcCases(options.source, only) : await synthCases(options.source, only);
  if (sources.length === 0) throw new Error(`no ${kind} cases under ${options.source}`);
  const models = new ModelRegistry();
  const model = await loadModel(models, options.model, options.threads);
  const calibration = resolveCalibration(options);
  let results: CaseResult[];
  try {
    results = await evaluateSources(sources, model, calibration, options);
  } finally {
    await models.close();
  }
  const metrics = summarise(results, model.manifest, kind);
  if (options.out) {
    await mkdir(dirname(resolve(options.out)), { recursive: true });
    await writeFile(options.out, `${JSON.stringify(metrics, null, 2)}\n`);
  }
  if (options.markdown) {
    await mkdir(dirname(resolve(options.markdown)), { recursive: true });
    await writeFile(options.markdown, metricsMarkdown(metrics, command));
  }
  return metrics;
}

/** What `pulse eval --perturb` writes (--out): the conditions' rows and compact per-case results. */
export interface RobustnessReport {
  readonly command: string;
  readonly date: string;
  readonly seed: number;
  readonly model: { name: string; version: string };
  readonly rows: readonly RobustnessRow[];
  readonly perCase: Record<string, ReadonlyArray<{ id: string; group: string; meanDice: number; dice: CaseResult['dice']; lvef: { truth: number | null; predicted: number | null }; lvedvTruth: number | null; qc: CaseResult['qc'] }>>;
}

/** Default seed of the perturbations (issue 14). */
export const DEFAULT_PERTURB_SEED = 14;

/**
 * `pulse eval --perturb ...`: the ACDC cases clean and under each named perturbation (the stack is
 * perturbed before it is written as DICOM, then the production path runs on it), one table.
 */
export async function runRobustnessEval(options: EvalOptions, command = 'pulse eval'): Promise<RobustnessReport> {
  const kind = kindOf(options);
  if (kind !== 'acdc') throw new Error('--perturb works on ACDC patients (the stack is perturbed before the NIfTI import writes it); use --kind acdc');
  const perturbations = perturbationsNamed((options.perturb ?? []).flatMap((p) => p.split(',')).map((p) => p.trim()).filter(Boolean));
  if (perturbations.length === 0) throw new Error('--perturb names no perturbation');
  const seed = options.seed ?? DEFAULT_PERTURB_SEED;
  const only = chosenCases(options);
  const models = new ModelRegistry();
  const model = await loadModel(models, options.model, options.threads);
  const calibration = resolveCalibration(options);
  const conditions: RobustnessCondition[] = [];
  try {
    const clean = await acdcCases(options.source, only);
    if (clean.length === 0) throw new Error(`no acdc cases under ${options.source}`);
    conditions.push({ name: 'clean', description: 'the patients as stored', metrics: summarise(await evaluateSources(clean, model, calibration, options, 'clean'), model.manifest, kind) });
    for (const p of perturbations) {
      const sources = await acdcCases(options.source, only, (stack, id) => perturbStack(stack, p, seed, id));
      const metrics = summarise(await evaluateSources(sources, model, calibration, options, p.name), model.manifest, kind);
      conditions.push({ name: p.name, description: p.description, metrics });
      // One line per condition: a long run in the background shows how far it got.
      process.stderr.write(`${p.name}: mean Dice ${robustnessRows([conditions[0]!, conditions.at(-1)!])[1]!.meanDice.toFixed(3)}\n`);
    }
  } finally {
    await models.close();
  }
  const rows = robustnessRows(conditions);
  const report: RobustnessReport = {
    command,
    date: new Date().toISOString().slice(0, 10),
    seed,
    model: { name: model.manifest.name, version: model.manifest.version },
    rows,
    perCase: Object.fromEntries(
      conditions.map((c) => [
        c.name,
        c.metrics.perCase.map((r) => ({ id: r.id, group: r.group, meanDice: meanDice(r), dice: r.dice, lvef: { truth: r.truth.lvef_pct ?? null, predicted: r.predicted.lvef_pct ?? null }, lvedvTruth: r.truth.lvedv_ml ?? null, qc: r.qc })),
      ]),
    ),
  };
  if (options.out) {
    await mkdir(dirname(resolve(options.out)), { recursive: true });
    await writeFile(options.out, `${JSON.stringify(report, null, 2)}\n`);
  }
  if (options.markdown) {
    await mkdir(dirname(resolve(options.markdown)), { recursive: true });
    await writeFile(options.markdown, `Produced by \`${command}\` on ${report.date}, seed ${seed} (${model.manifest.name} ${model.manifest.version}, ${conditions[0]!.metrics.cases} ACDC patients; in parentheses the difference from clean).\n\n${robustnessMarkdown(rows)}`);
  }
  return report;
}

/** A short console summary. */
export function summaryLines(m: EvalMetrics): string[] {
  const f = (v: number, d = 3) => (Number.isFinite(v) ? v.toFixed(d) : 'n/a');
  const lines = [`${m.model.name} ${m.model.version}: ${m.cases} ${m.kind} case(s)`];
  for (const phase of ['ed', 'es']) {
    lines.push(`Dice ${phase.toUpperCase()}: ${Object.entries(m.dice[phase]!).map(([k, v]) => `${k} ${f(v.mean)}`).join(', ')}; HD95 (mm): ${Object.entries(m.hd95Mm[phase]!).map(([k, v]) => `${k} ${f(v.mean, 1)}`).join(', ')}`);
  }
  lines.push(`errors (MAE / bias): ${Object.entries(m.measurements).map(([k, e]) => `${k} ${f(e.mae, 1)}/${f(e.bias, 1)}`).join(', ')}`);
  lines.push(`diagnosis: accuracy ${f(m.diagnosis.accuracy)}, macro-F1 ${f(m.diagnosis.macroF1)}`);
  lines.push(`qc: pass ${m.qc.pass}, review ${m.qc.review}, fail ${m.qc.fail}; false alarms ${m.qc.falseAlarms}/${m.qc.goodCases}`);
  return lines;
}

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('evaluate the pipeline on labelled studies (synthetic or ACDC): Dice, HD95, volume/EF/mass errors, diagnosis')
    .requiredOption('--source <dir>', 'folder of `pulse synth` studies, or of ACDC patientNNN folders')
    .option('--kind <kind>', 'synth | acdc (default: detected from the folder)')
    .option('--patients <list>', 'comma-separated case folder names (e.g. patient005,patient010)')
    .option('--split <name>', "a list from training/splits.json ('val' = validation, 'all' = both lists)")
    .option('--out <file>', 'write the metrics as JSON')
    .option('--markdown <file>', 'write an EVAL.md-style report')
    .option('--model <manifest>', 'model manifest.json (default: the bundled pulse-lite)')
    .option('--data <dir>', 'data folder holding stored calibrations (as pulse serve --data)')
    .option('--calibration <id|path>', 'evaluate with a site calibration: a stored id (with --data) or a calibration file')
    .option('--threads <n>', 'onnxruntime intra-op threads (default 1)', integerOption('--threads', { min: 1 }))
    .option('--tta <mode>', TTA_OPTION_HELP, 'none')
    .option('--perturb <names>', `ACDC only: evaluate clean and under each perturbation (comma-separated, repeatable; 'all' = ${PERTURBATIONS.map((p) => p.name).join(', ')}); --out/--markdown then hold the robustness table`, (value: string, previous: string[] = []) => [...previous, value])
    .option('--seed <n>', `seed of the perturbations' random draws (default ${DEFAULT_PERTURB_SEED})`, integerOption('--seed', { min: 0 }))
    .action(async (options: EvalOptions) => {
      const command = `pulse eval ${process.argv.slice(3).join(' ')}`;
      if (options.perturb?.length) {
        const report = await runRobustnessEval(options, command);
        process.stdout.write(robustnessMarkdown(report.rows));
        return;
      }
      if (options.seed !== undefined) throw new Error('--seed applies only with --perturb');
      const metrics = await runEval(options, command);
      process.stdout.write(`${summaryLines(metrics).join('\n')}\n`);
    });
}
