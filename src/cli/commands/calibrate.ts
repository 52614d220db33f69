/**
 * `pulse calibrate --studies <dir> --data <dir>`: a site calibration from annotated study folders
 * (images + a person's reference SEG each), with a progress bar and a before/after table, or one JSON
 * line with --json. `pulse calibration list|show|activate|deactivate|rollback --data <dir>` manages
 * what is stored.
 */
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import type { CalibrationProfile, CalibrationScope } from '../../calibration/profile.js';
import { SCOPE_KEYS } from '../../calibration/profile.js';
import { calibrationSummary } from '../../calibration/summary.js';
import { annotatedFolders, calibrate, readAnnotatedFolder, type AnnotatedStudy } from '../../pipeline/calibrate.js';
import { CalibrationStore } from '../../pipeline/calibration-store.js';
import { ModelRegistry } from '../../model/registry.js';
import { loadModel } from '../../pipeline/steps.js';
import { BadInputError } from '../../core/errors.js';
import type { AdapterCandidate } from '../../calibration/fit.js';

interface CalibrateCliOptions {
  studies: string;
  data: string;
  json?: boolean;
  model?: string;
  threads?: number;
  minGain?: string;
  maxLoss?: string;
  scope?: string;
  activate: boolean;
  candidates?: string;
}

/** The before/after table for a terminal. */
export function calibrationTable(profile: CalibrationProfile): string {
  const lines = [`calibration ${profile.id} (${profile.model.name} ${profile.model.version}), K = ${profile.k}, scope ${JSON.stringify(profile.scope)}`];
  const a = profile.annotation;
  lines.push(`annotations: ${a.annotatedImages} of ${a.totalImagesOfAnnotatedPhases} images in ${a.annotatedPhases} phases; ${a.studiesWithFullEdEs} of ${a.studies} studies with ED and ES on every slice (LVEF)`);
  const m = profile.metrics;
  if (m) {
    const f = (v: number | null | undefined, d = 3) => (typeof v === 'number' ? v.toFixed(d) : 'n/a');
    lines.push(`leave-one-study-out, against ${m.against}:`);
    lines.push('               before    after');
    for (const [key, name] of [['lv', 'Dice LV'], ['myo', 'Dice MYO'], ['rv', 'Dice RV']] as const) {
      lines.push(`${name.padEnd(14)} ${f(m.before.dice[key]).padStart(6)}   ${f(m.after.dice[key]).padStart(6)}`);
    }
    lines.push(`${'LVEF MAE (pt)'.padEnd(14)} ${f(m.before.lvefMae, 2).padStart(6)}   ${f(m.after.lvefMae, 2).padStart(6)}`);
    const e = m.endToEnd;
    if (e) {
      lines.push(`end to end (the pipeline's own ED/ES, ${e.after.studies} held-out ${e.after.studies === 1 ? 'study' : 'studies'}):`);
      lines.push(`${'LVEF MAE (pt)'.padEnd(14)} ${f(e.before.lvefMae, 2).padStart(6)}   ${f(e.after.lvefMae, 2).padStart(6)}`);
      lines.push(`${'LV volume err'.padEnd(14)} ${f(e.before.volumeError, 3).padStart(6)}   ${f(e.after.volumeError, 3).padStart(6)}`);
    }
  }
  lines.push(`${profile.promoted ? 'PROMOTED' : 'NOT PROMOTED'}: ${profile.reason}`);
  return lines.join('\n');
}

function parseScope(text: string | undefined): CalibrationScope | undefined {
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new BadInputError(`--scope must be a JSON object, e.g. {"manufacturer":"Acme"}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new BadInputError('--scope must be a JSON object');
  for (const [key, value] of Object.entries(parsed)) {
    if (!(SCOPE_KEYS as readonly string[]).includes(key)) throw new BadInputError(`--scope: unknown rule '${key}' (known: ${SCOPE_KEYS.join(', ')})`);
    if (typeof value !== 'string') throw new BadInputError(`--scope: rule '${key}' must be a string`);
  }
  return parsed as CalibrationScope;
}

function fraction(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new BadInputError(`--${name} must be a number between 0 and 1, got ${value}`);
  return n;
}

export async function runCalibrate(options: CalibrateCliOptions): Promise<CalibrationProfile> {
  const folders = await annotatedFolders(options.studies);
  const model = await loadModel(new ModelRegistry(), options.model, options.threads);
  const scope = parseScope(options.scope);
  const candidates = options.candidates?.split(',').map((c) => c.trim()) as AdapterCandidate[] | undefined;
  for (const c of candidates ?? []) if (c !== 'head' && c !== 'intensity+head') throw new BadInputError(`--candidates: '${c}' is not head or intensity+head`);
  const bar = options.json ? undefined : new cliProgress.SingleBar({ format: 'calibrate [{bar}] {value}/{total} {what}', stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic);
  const studies: AnnotatedStudy[] = [];
  const readSteps = folders.length;
  let total = readSteps + folders.length * 2 + 1;
  bar?.start(total, 0, { what: 'reading studies' });
  try {
    for (const folder of folders) {
      studies.push(await readAnnotatedFolder(folder, model));
      bar?.increment(1, { what: `read ${studies.length}/${folders.length}` });
    }
    const minGain = fraction(options.minGain, 'min-gain');
    const maxLoss = fraction(options.maxLoss, 'max-loss');
    return await calibrate(model, studies, {
      store: new CalibrationStore(options.data),
      rule: { ...(minGain !== undefined ? { minGain } : {}), ...(maxLoss !== undefined ? { maxStructureLoss: maxLoss } : {}) },
      ...(scope ? { scope } : {}),
      ...(candidates ? { candidates } : {}),
      activate: options.activate,
      onProgress: (done, steps, what) => {
        total = readSteps + steps;
        bar?.setTotal(total);
        bar?.update(readSteps + done, { what });
      },
    });
  } finally {
    bar?.stop();
  }
}

function show(profile: CalibrationProfile, status: string): string {
  return `${calibrationTable(profile)}\nstatus: ${status}; created ${profile.created}; source studies (hashed): ${profile.sourceStudies.join(', ')}`;
}

export function registerCalibrate(program: Command): void {
  program
    .command('calibrate')
    .description('fit a site calibration from annotated studies (images + reference SEG per folder), evaluate it leave-one-study-out, store it and activate it when it beats what runs now')
    .requiredOption('--studies <dir>', 'folder of annotated study folders')
    .requiredOption('--data <dir>', 'the data folder the service uses (--data of pulse serve)')
    .option('--json', 'print one JSON line instead of the table')
    .option('--scope <json>', `match rules, e.g. {"manufacturer":"Acme"} (keys: ${SCOPE_KEYS.join(', ')}; default: what all studies share)`)
    .option('--min-gain <d>', 'mean Dice gain needed to promote (default 0.01)')
    .option('--max-loss <d>', 'largest Dice loss allowed on any structure (default 0.02)')
    .option('--candidates <list>', 'adapters to try leave-one-study-out, comma-separated: head, intensity+head (default both; the better one is kept)')
    .option('--no-activate', 'store only; do not activate even when promoted')
    .option('--model <manifest>', 'model manifest.json (default: the bundled pulse-lite)')
    .option('--threads <n>', 'onnxruntime intra-op threads (default 1)', (v: string) => Number(v))
    .action(async (options: CalibrateCliOptions) => {
      const profile = await runCalibrate(options);
      process.stdout.write(options.json ? `${JSON.stringify(calibrationSummary(profile))}\n` : `${calibrationTable(profile)}\n`);
    });

  const manage = program.command('calibration').description('list, show, activate, deactivate or roll back stored site calibrations');
  const store = (options: { data: string }) => new CalibrationStore(options.data);
  manage
    .command('list')
    .requiredOption('--data <dir>', 'data folder')
    .option('--json', 'one JSON object per line')
    .action((options: { data: string; json?: boolean }) => {
      for (const { profile, status } of store(options).list()) {
        process.stdout.write(
          options.json
            ? `${JSON.stringify({ ...calibrationSummary(profile), status, created: profile.created })}\n`
            : `${profile.id}\t${status}\tK=${profile.k}\t${JSON.stringify(profile.scope)}\t${profile.reason}\n`,
        );
      }
    });
  manage
    .command('show')
    .argument('<id>')
    .requiredOption('--data <dir>', 'data folder')
    .action((id: string, options: { data: string }) => {
      const s = store(options);
      const profile = s.get(id);
      process.stdout.write(`${show(profile, s.statusOf(profile))}\n`);
    });
  for (const action of ['activate', 'deactivate'] as const) {
    manage
      .command(action)
      .argument('<id>')
      .requiredOption('--data <dir>', 'data folder')
      .action((id: string, options: { data: string }) => {
        const state = store(options)[action](id);
        process.stdout.write(`active: ${state.active.join(', ') || '(none: the bare model)'}\n`);
      });
  }
  manage
    .command('rollback')
    .requiredOption('--data <dir>', 'data folder')
    .action((options: { data: string }) => {
      const state = store(options).rollback();
      process.stdout.write(`active: ${state.active.join(', ') || '(none: the bare model)'}\n`);
    });
}
