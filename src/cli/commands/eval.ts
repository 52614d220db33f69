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
import { acdcCases, evaluateCase, metricsMarkdown, summarise, synthCases, type CaseResult, type CaseSource, type EvalMetrics } from '../../pipeline/evaluate.js';
import { ModelRegistry } from '../../model/registry.js';
import { loadModel } from '../../pipeline/steps.js';
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

export async function runEval(options: EvalOptions, command = 'pulse eval'): Promise<EvalMetrics> {
  if (!existsSync(options.source)) throw new Error(`--source ${options.source} does not exist`);
  const kind = options.kind ?? detectKind(options.source);
  if (kind !== 'synth' && kind !== 'acdc') throw new Error(`--kind must be synth or acdc, got '${String(kind)}'`);
  const only = options.patients ? options.patients.split(',').map((p) => p.trim()).filter(Boolean) : options.split ? readSplit(options.split) : undefined;
  const sources: CaseSource[] = kind === 'acdc' ? await acdcCases(options.source, only) : await synthCases(options.source, only);
  if (sources.length === 0) throw new Error(`no ${kind} cases under ${options.source}`);
  const tta = parseTta(options.tta ?? 'none', '--tta');
  const models = new ModelRegistry();
  const model = await loadModel(models, options.model, options.threads);
  const calibration = resolveCalibration(options);
  const bar = options.quiet ? undefined : new cliProgress.SingleBar({ format: 'eval [{bar}] {value}/{total} {case}', stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic);
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
    .option('--split <name>', "a list from training/splits.json ('val' = validation)")
    .option('--out <file>', 'write the metrics as JSON')
    .option('--markdown <file>', 'write an EVAL.md-style report')
    .option('--model <manifest>', 'model manifest.json (default: the bundled pulse-lite)')
    .option('--data <dir>', 'data folder holding stored calibrations (as pulse serve --data)')
    .option('--calibration <id|path>', 'evaluate with a site calibration: a stored id (with --data) or a calibration file')
    .option('--threads <n>', 'onnxruntime intra-op threads (default 2)', integerOption('--threads', { min: 1 }))
    .option('--tta <mode>', TTA_OPTION_HELP, 'none')
    .action(async (options: EvalOptions) => {
      const command = `pulse eval ${process.argv.slice(3).join(' ')}`;
      const metrics = await runEval(options, command);
      process.stdout.write(`${summaryLines(metrics).join('\n')}\n`);
    });
}
