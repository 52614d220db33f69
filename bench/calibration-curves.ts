/**
 * The measured curves of docs/calibration.md: zero-shot vs K-shot site calibration on shifted domains,
 * scored on studies not used for fitting, through the production pipeline (`evaluateCase`, the code of
 * `pulse eval`): Dice per structure (mean of ED and ES) and LVEF MAE. In-domain reference: the bare
 * model on cine-mri (synthetic domains) and on the unshifted ACDC patients (the ACDC shift).
 *
 *   node dist/bench/calibration-curves.js --out docs/calibration/curves.json
 *        [--domains vendor-shifted-mri,echo-like,ct-like,acdc-shift] [--ks 1,3,5,10] [--test 6]
 *        [--candidates head] [--acdc-shifted <dir from scripts/acdc-shift.py>]
 *
 * The results file is rewritten after every (domain, K), so an interrupted run keeps what it measured.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { loadavg } from 'node:os';
import { synthReferenceSeg } from '../src/cli/commands/synth.js';
import type { AdapterCandidate } from '../src/calibration/fit.js';
import { fitCalibration } from '../src/calibration/fit.js';
import { DEFAULT_PROMOTION_RULE, type CalibrationProfile } from '../src/calibration/profile.js';
import { importAcdcPatient } from '../src/nifti/index.js';
import { annotatedStudy, CALIBRATION_SERIES_RULES, type AnnotatedStudy } from '../src/pipeline/calibrate.js';
import { acdcEvalCase, evaluateCase, type CaseResult, type EvalCase } from '../src/pipeline/evaluate.js';
import { buildReferenceSegmentation } from '../src/pipeline/reference-seg.js';
import { ModelRegistry } from '../src/model/registry.js';
import { loadModel, type LoadedModel } from '../src/pipeline/steps.js';
import { generateStudy, type SynthDomain, type SynthStudy } from '../src/synth/index.js';

function argument(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

interface Labelled {
  readonly evalCase: EvalCase;
  /** Images + a MANUAL reference SEG over the labelled ED and ES (what calibration reads). */
  readonly annotated: () => Promise<AnnotatedStudy>;
}

const PHASES = 12;

function synthLabelled(study: SynthStudy, model: LoadedModel): Labelled {
  const t = study.truth;
  const instances = study.files.map((f) => ({ source: f.name, bytes: f.bytes }));
  return {
    evalCase: {
      id: study.name,
      kind: 'synth',
      instances,
      truthLabels: study.labels,
      truthLabelValues: { rv: t.labelValues.RV, myo: t.labelValues.MYO, lv: t.labelValues.LV },
      edInstances: new Set(t.labels.instances.filter((i) => i.phase === t.phases.ed).map((i) => i.sopInstanceUID)),
      esInstances: new Set(t.labels.instances.filter((i) => i.phase === t.phases.es).map((i) => i.sopInstanceUID)),
      phasesGiven: false,
      group: t.group,
      truthMeasurements: t.measurements as unknown as Record<string, number>,
      seriesRules: CALIBRATION_SERIES_RULES,
    },
    annotated: () => annotatedStudy([...instances, { source: 'reference-seg.dcm', bytes: synthReferenceSeg(study, 'ed-es') }], study.name, model),
  };
}

async function acdcLabelled(folder: string, model: LoadedModel): Promise<Labelled> {
  const acdc = await importAcdcPatient(folder);
  const rules = { ...CALIBRATION_SERIES_RULES, orientation: 'any' as const };
  const evalCase = acdcEvalCase(folder, acdc, rules);
  const { instances } = evalCase;
  return {
    evalCase,
    annotated: async () => {
      const seg = buildReferenceSegmentation({ instances, labels: acdc.labels, manifest: model.manifest, annotator: 'ACDC expert annotation', seriesRules: rules });
      return annotatedStudy([...instances, { source: 'reference-seg.dcm', bytes: seg.bytes }], folder, model, rules);
    },
  };
}

interface Scores {
  readonly n: number;
  readonly dice: Record<string, number>;
  readonly lvefMae: number;
}

function score(results: readonly CaseResult[]): Scores {
  const dice: Record<string, number> = {};
  for (const key of ['lv', 'myo', 'rv']) {
    const values = results.map((r) => {
      const v = [r.dice.ed[key], r.dice.es[key]].filter((x): x is number => typeof x === 'number');
      return v.length ? v.reduce((a, b) => a + b, 0) / v.length : 0;
    });
    dice[key] = values.reduce((a, b) => a + b, 0) / values.length;
  }
  const errors = results.map((r) => Math.abs((r.predicted['lvef_pct'] ?? 0) - (r.truth['lvef_pct'] ?? 0)));
  return { n: results.length, dice, lvefMae: errors.reduce((a, b) => a + b, 0) / errors.length };
}

async function evaluate(cases: readonly Labelled[], model: LoadedModel, calibration: CalibrationProfile | null): Promise<Scores> {
  const results: CaseResult[] = [];
  for (const c of cases) results.push(await evaluateCase(c.evalCase, model, calibration));
  return score(results);
}

async function main(): Promise<void> {
  const out = resolve(argument('out') ?? 'docs/calibration/curves.json');
  const domains = (argument('domains') ?? 'vendor-shifted-mri,echo-like,ct-like,acdc-shift').split(',');
  const ks = (argument('ks') ?? '1,3,5,10').split(',').map(Number);
  const testCount = Number(argument('test') ?? 6);
  const candidates = (argument('candidates') ?? 'head').split(',') as AdapterCandidate[];
  const acdcShifted = argument('acdc-shifted');
  const acdcRoot = resolve(argument('acdc') ?? '../shared/data/acdc/training');
  const model = await loadModel(new ModelRegistry(), undefined, 2);
  const results: Record<string, unknown> = existsSync(out) ? (JSON.parse(readFileSync(out, 'utf8')) as Record<string, unknown>) : {};
  const save = () => {
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  };
  results['command'] = `node dist/bench/calibration-curves.js ${process.argv.slice(2).join(' ')}`;
  results['model'] = { name: model.manifest.name, version: model.manifest.version };

  const maxK = Math.max(...ks);
  const validation = (JSON.parse(readFileSync('training/splits.json', 'utf8')) as { validation: string[] }).validation;
  for (const domain of domains) {
    const started = performance.now();
    let pool: Labelled[];
    let test: Labelled[];
    let inDomain: Labelled[];
    if (domain === 'acdc-shift') {
      if (!acdcShifted) throw new Error('--acdc-shifted <dir> (from scripts/acdc-shift.py over the validation patients) is needed for acdc-shift');
      // Validation patients only (never trained on): the first 10 calibrate, the last ones test.
      const poolNames = validation.slice(0, maxK);
      const testNames = validation.slice(validation.length - testCount);
      pool = await Promise.all(poolNames.map((p) => acdcLabelled(join(acdcShifted, p), model)));
      test = await Promise.all(testNames.map((p) => acdcLabelled(join(acdcShifted, p), model)));
      inDomain = await Promise.all(testNames.map((p) => acdcLabelled(join(acdcRoot, p), model)));
    } else {
      const synth = (seed: number, d: SynthDomain) => synthLabelled(generateStudy({ seed, domain: d, phases: PHASES }), model);
      pool = Array.from({ length: maxK }, (_, i) => synth(5000 + i, domain as SynthDomain));
      test = Array.from({ length: testCount }, (_, i) => synth(9000 + i, domain as SynthDomain));
      inDomain = Array.from({ length: testCount }, (_, i) => synth(9000 + i, 'cine-mri'));
    }
    const entry: Record<string, unknown> = { inDomain: await evaluate(inDomain, model, null), zeroShot: await evaluate(test, model, null), shots: {} };
    results[domain] = entry;
    save();
    process.stderr.write(`${domain}: in-domain and zero-shot done (${Math.round((performance.now() - started) / 1000)} s, load ${loadavg()[0]!.toFixed(1)})\n`);
    const annotated: AnnotatedStudy[] = [];
    for (const k of ks) {
      while (annotated.length < k) annotated.push(await pool[annotated.length]!.annotated());
      const t0 = performance.now();
      const fitted = await fitCalibration(annotated.slice(0, k), { rule: DEFAULT_PROMOTION_RULE, candidates, leaveOneOut: false });
      const fitMs = performance.now() - t0;
      const profile = {
        id: `cal-curves-${domain}-${k}`,
        parameters: { head: fitted.head, intensity: fitted.intensity, fit: fitted.fit, promotion: DEFAULT_PROMOTION_RULE },
        opens: { modalities: [...new Set(annotated.map((a) => a.equipment.modality ?? ''))], sopClassUIDs: [...new Set(annotated.map((a) => a.sopClassUID))] },
        model: { name: model.manifest.name, version: model.manifest.version },
      } as unknown as CalibrationProfile;
      (entry['shots'] as Record<string, unknown>)[String(k)] = { ...(await evaluate(test, model, profile)), candidate: fitted.candidate, fitMs: Math.round(fitMs) };
      save();
      process.stderr.write(`${domain}: K=${k} done (${Math.round((performance.now() - started) / 1000)} s)\n`);
    }
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
