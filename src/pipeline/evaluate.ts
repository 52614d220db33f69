/**
 * `pulse eval`'s core: runs labelled studies through the production steps (runStudy) and scores
 * them. Case loading (synthetic studies, ACDC patients) is at the bottom; scoring is pure.
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { measureStudy } from '../analysis/index.js';
import { importAcdcPatient, type AcdcImport, type LabelledStack } from '../nifti/index.js';
import { readSynthStudy } from '../synth/index.js';
import type { SeriesSelectionRulesInput } from '../study/series-rules.js';
import type { CineStudy, LabelMap } from '../study/types.js';
import { classification, dice, errorSummary, hausdorff95, type ClassificationMetrics, type PhaseVolume } from './metrics.js';
import { readInstancesFromFiles } from './read-folder.js';
import type { StudyInstance } from '../core/study-instance.js';
import { runStudy, type LoadedModel, type StudyRun } from './steps.js';
import type { CalibrationProfile } from '../calibration/profile.js';
import { adapterOf, checkCalibrationModel, inputTransformOf, seriesRulesWith } from './calibrate.js';
import type { StudyUncertainty } from '../analysis/quality-control.js';
import type { TtaMode } from '../model/tta.js';
import { median } from '../util/median.js';

/** One labelled study. */
export interface EvalCase {
  readonly id: string;
  readonly kind: 'synth' | 'acdc';
  readonly instances: readonly StudyInstance[];
  /** Reference label maps by SOP Instance UID, on each instance's grid. */
  readonly truthLabels: ReadonlyMap<string, Uint8Array>;
  /** Reference label value per segment key ('lv', 'myo', 'rv'). */
  readonly truthLabelValues: Readonly<Record<string, number>>;
  /** SOP Instance UIDs of the labelled ED and ES images (phases are found in the grid through them). */
  readonly edInstances: ReadonlySet<string>;
  readonly esInstances: ReadonlySet<string>;
  /** The ED/ES of the data are given (ACDC: only those two frames exist); else the pipeline finds them. */
  readonly phasesGiven: boolean;
  readonly group: string;
  /** Reference measurements when the source has them exactly (synthetic truth); else computed from truthLabels. */
  readonly truthMeasurements?: Readonly<Record<string, number>>;
  readonly seriesRules?: SeriesSelectionRulesInput;
}

export const SCORED_MEASUREMENTS = ['lvedv_ml', 'lvesv_ml', 'lvef_pct', 'lv_mass_g', 'rvedv_ml', 'rvesv_ml', 'rvef_pct'] as const;
export const SCORED_KEYS = ['lv', 'myo', 'rv'] as const;

export interface CaseResult {
  readonly id: string;
  readonly group: string;
  readonly predictedGroup: string;
  readonly probabilities: Readonly<Record<string, number>>;
  /** phase ('ed' | 'es') -> key -> value (null when undefined, e.g. structure absent). */
  readonly dice: Record<'ed' | 'es', Record<string, number | null>>;
  readonly hd95Mm: Record<'ed' | 'es', Record<string, number | null>>;
  readonly predicted: Record<string, number>;
  readonly truth: Record<string, number>;
  readonly phases: { readonly predicted: { ed: number; es: number }; readonly truth: { ed: number; es: number } };
  readonly timingsMs: Readonly<Record<string, number>>;
  /** Quality control of the pipeline's result for this case. */
  readonly qc: { readonly status: 'pass' | 'review' | 'fail'; readonly reasons: readonly string[]; readonly ood: number | null; readonly uncertainty?: StudyUncertainty };
}

/** Phase index of the grid holding any of `instances`. */
function phaseOf(study: CineStudy, instances: ReadonlySet<string>, what: string, id: string): number {
  for (const row of study.grid.images) {
    for (let p = 0; p < row.length; p++) if (instances.has(row[p]!.sopInstanceUID)) return p;
  }
  throw new Error(`${id}: no image of the chosen series is the labelled ${what} frame`);
}

function truthMaps(study: CineStudy, c: EvalCase): LabelMap[][] {
  return study.grid.images.map((row) =>
    row.map((image) => {
      const labels = c.truthLabels.get(image.sopInstanceUID);
      if (!labels) throw new Error(`${c.id}: no reference label map for an image of the chosen series`);
      return { image, labels };
    }),
  );
}

function phaseVolume(maps: ReadonlyArray<ReadonlyArray<LabelMap>>, phase: number): PhaseVolume {
  return { planes: maps.map((row) => row[phase]!.image.plane), labels: maps.map((row) => row[phase]!.labels) };
}

/** Runs one case through the pipeline and scores it. */
export async function evaluateCase(c: EvalCase, model: LoadedModel, calibration: CalibrationProfile | null = null, options: { locate?: boolean; canonical?: boolean; tta?: TtaMode; onRun?: (run: StudyRun, truth: LabelMap[][]) => void } = {}): Promise<CaseResult> {
  const knownPhases = (study: CineStudy) => (c.phasesGiven ? { ed: phaseOf(study, c.edInstances, 'ED', c.id), es: phaseOf(study, c.esInstances, 'ES', c.id) } : undefined);
  if (calibration) checkCalibrationModel(calibration, model.manifest);
  const seriesRules = calibration ? seriesRulesWith(calibration, c.seriesRules) : c.seriesRules;
  const run = await runStudy(c.instances, model, { knownPhases, ...(seriesRules ? { seriesRules } : {}), ...(calibration ? { adapter: adapterOf(calibration) } : {}), ...(calibration && inputTransformOf(calibration) ? { inputTransform: inputTransformOf(calibration)! } : {}), ...(options.locate === false ? { locate: false } : {}), ...(options.canonical === false ? { canonical: false } : {}), ...(options.tta ? { tta: options.tta } : {}) });
  const { study, segmentation, analysis } = run;
  const truth = truthMaps(study, c);
  // Benches that measure more than the scores (bench/coverage-eval.ts) see the run and the reference.
  options.onRun?.(run, truth);
  const ed = phaseOf(study, c.edInstances, 'ED', c.id);
  const es = phaseOf(study, c.esInstances, 'ES', c.id);
  const labelOf = Object.fromEntries(model.manifest.segments.map((s) => [s.key, s.labelValue]));
  const diceOut = { ed: {}, es: {} } as CaseResult['dice'];
  const hdOut = { ed: {}, es: {} } as CaseResult['hd95Mm'];
  for (const [name, phase] of [['ed', ed], ['es', es]] as const) {
    const p = phaseVolume(segmentation.labelMaps, phase);
    const t = phaseVolume(truth, phase);
    for (const key of SCORED_KEYS) {
      const predictedLabel = labelOf[key];
      const truthLabel = c.truthLabelValues[key];
      if (predictedLabel === undefined || truthLabel === undefined) continue;
      diceOut[name][key] = dice(p, t, predictedLabel, truthLabel);
      hdOut[name][key] = hausdorff95(p, t, predictedLabel, study.grid.sliceNormal, truthLabel);
    }
  }
  const truthValues =
    c.truthMeasurements ??
    measureStudy({
      grid: study.grid,
      labelMaps: relabel(truth, c.truthLabelValues, labelOf),
      manifest: model.manifest,
      context: study.context,
      knownPhases: { ed, es },
    }).exact;
  const pick = (m: Readonly<Record<string, number>>) => Object.fromEntries(SCORED_MEASUREMENTS.filter((k) => typeof m[k] === 'number').map((k) => [k, m[k]!]));
  // eval writes no DICOM objects: its timings are the stages it runs.
  const timingsMs = run.timer.snapshot();
  return {
    id: c.id,
    group: c.group,
    predictedGroup: analysis.diagnosis.label,
    probabilities: analysis.diagnosis.probabilities,
    dice: diceOut,
    hd95Mm: hdOut,
    predicted: pick(analysis.exactMeasurements),
    truth: pick(truthValues),
    phases: { predicted: { ...analysis.phases }, truth: { ed, es } },
    timingsMs,
    qc: { status: run.qc.status, reasons: run.qc.reasons, ood: run.qc.ood, ...(run.qc.uncertainty ? { uncertainty: run.qc.uncertainty } : {}) },
  };
}

/** Mean Dice (LV, MYO, RV at ED and ES) from which a result counts as good: QC flags on it are false alarms. */
export const GOOD_DICE = 0.8;

export function meanDice(r: Pick<CaseResult, 'dice'>): number {
  const values = (['ed', 'es'] as const).flatMap((p) => SCORED_KEYS.map((k) => r.dice[p][k])).filter((v): v is number => typeof v === 'number');
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0;
}

/** Truth maps rewritten into the manifest's label values, so the measurement code reads them as it reads predictions. */
function relabel(maps: LabelMap[][], from: Readonly<Record<string, number>>, to: Readonly<Record<string, number>>): LabelMap[][] {
  const table = new Uint8Array(256);
  for (const [key, value] of Object.entries(from)) if (to[key] !== undefined) table[value] = to[key]!;
  return maps.map((row) => row.map((m) => ({ image: m.image, labels: m.labels.map((v) => table[v]!) })));
}

export interface EvalMetrics {
  readonly model: { name: string; version: string };
  readonly kind: string;
  readonly cases: number;
  /** phase -> key -> mean, sd, n over cases (3D Dice per patient per phase). */
  readonly dice: Record<string, Record<string, { mean: number; sd: number; n: number }>>;
  readonly hd95Mm: Record<string, Record<string, { mean: number; sd: number; n: number }>>;
  /** Measurement errors (predicted - truth): MAE, bias, SD. */
  readonly measurements: Record<string, { mae: number; bias: number; sd: number; n: number }>;
  readonly diagnosis: ClassificationMetrics;
  /** Median per-stage pipeline time per study (ms). */
  readonly medianTimingsMs: Record<string, number>;
  /** QC outcomes; falseAlarms = review or fail on a case whose mean Dice is at least GOOD_DICE. */
  readonly qc: { pass: number; review: number; fail: number; goodCases: number; falseAlarms: number; falseAlarmRate: number };
  readonly perCase: readonly CaseResult[];
}

function meanSd(values: number[]): { mean: number; sd: number; n: number } {
  const n = values.length;
  if (n === 0) return { mean: Number.NaN, sd: Number.NaN, n };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  return { mean, sd: Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / n), n };
}

/** Aggregates case results (pure). */
export function summarise(results: readonly CaseResult[], model: LoadedModel['manifest'], kind: string): EvalMetrics {
  const per = (field: 'dice' | 'hd95Mm') => {
    const out: Record<string, Record<string, { mean: number; sd: number; n: number }>> = {};
    for (const phase of ['ed', 'es'] as const) {
      out[phase] = {};
      for (const key of SCORED_KEYS) {
        const values = results.map((r) => r[field][phase][key]).filter((v): v is number => typeof v === 'number');
        out[phase]![key] = meanSd(values);
      }
    }
    return out;
  };
  const measurements: EvalMetrics['measurements'] = {};
  for (const key of SCORED_MEASUREMENTS) {
    const pairs = results.filter((r) => key in r.predicted && key in r.truth).map((r) => ({ predicted: r.predicted[key]!, truth: r.truth[key]! }));
    measurements[key] = errorSummary(pairs);
  }
  const stages = new Set(results.flatMap((r) => Object.keys(r.timingsMs)));
  const medianTimingsMs = Object.fromEntries([...stages].map((s) => [s, Math.round(median(results.map((r) => r.timingsMs[s] ?? 0), 0) * 10) / 10]));
  return {
    model: { name: model.name, version: model.version },
    kind,
    cases: results.length,
    dice: per('dice'),
    hd95Mm: per('hd95Mm'),
    measurements,
    diagnosis: classification(
      results.map((r) => ({ truth: r.group, predicted: r.predictedGroup })),
      model.diagnosis.groups.map((g) => g.name),
    ),
    medianTimingsMs,
    qc: qcSummaryOf(results),
    perCase: results,
  };
}

function qcSummaryOf(results: readonly CaseResult[]): EvalMetrics['qc'] {
  const count = (status: string) => results.filter((r) => r.qc.status === status).length;
  const good = results.filter((r) => meanDice(r) >= GOOD_DICE);
  const falseAlarms = good.filter((r) => r.qc.status !== 'pass').length;
  return { pass: count('pass'), review: count('review'), fail: count('fail'), goodCases: good.length, falseAlarms, falseAlarmRate: good.length ? falseAlarms / good.length : 0 };
}

const fmt = (v: number, d = 3) => (Number.isFinite(v) ? v.toFixed(d) : 'n/a');

/** EVAL.md body from the metrics and the command that produced them. */
export function metricsMarkdown(m: EvalMetrics, command: string): string {
  const lines: string[] = [];
  lines.push(`# Evaluation of ${m.model.name} ${m.model.version}`, '');
  lines.push(`Produced by \`${command}\` (${m.cases} ${m.kind === 'acdc' ? 'ACDC patients' : 'synthetic studies'}; the TypeScript pipeline, the same code path as \`pulse infer\`).`, '');
  if (m.kind === 'acdc') lines.push('ACDC provides only the ED and ES frames: they are the labelled phases, taken from Info.cfg through the NIfTI import, not from the volume curve.', '');
  lines.push('## Segmentation (3D per patient per phase, mean ± SD)', '');
  lines.push('| structure | Dice ED | Dice ES | HD95 ED (mm) | HD95 ES (mm) |', '| --- | --- | --- | --- | --- |');
  for (const key of SCORED_KEYS) {
    const d = (p: string) => `${fmt(m.dice[p]![key]!.mean)} ± ${fmt(m.dice[p]![key]!.sd)}`;
    const h = (p: string) => `${fmt(m.hd95Mm[p]![key]!.mean, 1)} ± ${fmt(m.hd95Mm[p]![key]!.sd, 1)}`;
    lines.push(`| ${key} | ${d('ed')} | ${d('es')} | ${h('ed')} | ${h('es')} |`);
  }
  lines.push('', '## Clinical measurements (predicted − reference)', '', '| measurement | MAE | bias | SD | n |', '| --- | --- | --- | --- | --- |');
  for (const [key, e] of Object.entries(m.measurements)) lines.push(`| ${key} | ${fmt(e.mae, 2)} | ${fmt(e.bias, 2)} | ${fmt(e.sd, 2)} | ${e.n} |`);
  lines.push('', '## Diagnosis', '', `Accuracy ${fmt(m.diagnosis.accuracy)}, macro-F1 ${fmt(m.diagnosis.macroF1)}.`, '');
  lines.push(`| truth \\ predicted | ${m.diagnosis.labels.join(' | ')} |`, `| --- | ${m.diagnosis.labels.map(() => '---').join(' | ')} |`);
  m.diagnosis.labels.forEach((label, i) => lines.push(`| ${label} | ${m.diagnosis.confusion[i]!.join(' | ')} |`));
  lines.push('', '## Pipeline time per study (median, ms)', '', `| ${Object.keys(m.medianTimingsMs).join(' | ')} |`, `| ${Object.keys(m.medianTimingsMs).map(() => '---').join(' | ')} |`, `| ${Object.values(m.medianTimingsMs).join(' | ')} |`);
  const q = m.qc;
  lines.push('', '## Quality control (docs/quality-control.md)', '', `pass ${q.pass}, review ${q.review}, fail ${q.fail}. False alarms (review or fail on a case with mean Dice ≥ ${GOOD_DICE}): ${q.falseAlarms} of ${q.goodCases} (${fmt(q.falseAlarmRate * 100, 1)} %).`);
  lines.push('', '## Per case', '', '| case | group | predicted | LV Dice ED/ES | MYO Dice ED/ES | RV Dice ED/ES | LVEF ref/pred | QC (OOD) |', '| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of m.perCase) {
    const d = (k: string) => `${fmt(r.dice.ed[k] ?? Number.NaN)} / ${fmt(r.dice.es[k] ?? Number.NaN)}`;
    lines.push(`| ${r.id} | ${r.group} | ${r.predictedGroup} | ${d('lv')} | ${d('myo')} | ${d('rv')} | ${fmt(r.truth.lvef_pct ?? Number.NaN, 1)} / ${fmt(r.predicted.lvef_pct ?? Number.NaN, 1)} | ${r.qc.status} (${r.qc.ood ?? 'n/a'}) |`);
  }
  return `${lines.join('\n')}\n`;
}

// ---- Case sources (file-system edge) ----

/** A lazily loaded case: loading one ACDC patient or synthetic study at a time keeps memory flat. */
export interface CaseSource {
  readonly id: string;
  load(): Promise<EvalCase>;
}

/** Study folders under `dir` (or `dir` itself) written by `pulse synth`. */
export async function synthCases(dir: string, only?: readonly string[]): Promise<CaseSource[]> {
  const folders = existsSync(join(dir, 'truth.json'))
    ? [dir]
    : (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory() && existsSync(join(dir, e.name, 'truth.json'))).map((e) => join(dir, e.name)).sort();
  const chosen = only ? folders.filter((f) => only.includes(basename(f))) : folders;
  return chosen.map((folder) => ({
    id: basename(folder),
    load: async (): Promise<EvalCase> => {
      const s = await readSynthStudy(folder);
      const t = s.truth;
      const edInstances = new Set(t.labels.instances.filter((i) => i.phase === t.phases.ed).map((i) => i.sopInstanceUID));
      const esInstances = new Set(t.labels.instances.filter((i) => i.phase === t.phases.es).map((i) => i.sopInstanceUID));
      return {
        id: basename(folder),
        kind: 'synth',
        instances: await readInstancesFromFiles(s.dicomFiles, folder),
        truthLabels: s.labels,
        truthLabelValues: { rv: t.labelValues.RV, myo: t.labelValues.MYO, lv: t.labelValues.LV },
        edInstances,
        esInstances,
        phasesGiven: false,
        group: t.group,
        truthMeasurements: t.measurements as unknown as Record<string, number>,
      };
    },
  }));
}

/**
 * ACDC patient folders (patientNNN with Info.cfg) under `dir`, through the NIfTI import. `transform`
 * changes each patient's stack (images, labels, grid) before it is written as DICOM: the robustness
 * evaluation's perturbations (pipeline/perturb.ts).
 */
export async function acdcCases(dir: string, only?: readonly string[], transform?: (stack: LabelledStack, caseId: string) => LabelledStack): Promise<CaseSource[]> {
  const folders = existsSync(join(dir, 'Info.cfg'))
    ? [dir]
    : (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory() && existsSync(join(dir, e.name, 'Info.cfg'))).map((e) => join(dir, e.name)).sort();
  const chosen = only ? folders.filter((f) => only.includes(basename(f))) : folders;
  if (only) {
    const missing = only.filter((p) => !chosen.some((f) => basename(f) === p));
    if (missing.length) throw new Error(`not ACDC patient folders under ${dir}: ${missing.join(', ')}`);
  }
  return chosen.map((folder) => ({
    id: basename(folder),
    load: async (): Promise<EvalCase> => {
      const id = basename(folder);
      const acdc = await importAcdcPatient(folder, transform ? { transform: (stack) => transform(stack, id) } : {});
      return acdcEvalCase(id, acdc);
    },
  }));
}

/**
 * An imported ACDC patient as an evaluation case. ACDC holds only the ED and ES frames: those are
 * the labelled phases, from Info.cfg. NIfTI carries no real patient orientation, so by default the
 * imported stack may be axis-aligned.
 */
export function acdcEvalCase(id: string, acdc: AcdcImport, seriesRules: SeriesSelectionRulesInput = { orientation: 'any' }): EvalCase {
  const { info } = acdc;
  const at = (phase: number) => new Set(info.instances.filter((i) => i.phase === phase).map((i) => i.sopInstanceUID as string));
  return {
    id,
    kind: 'acdc',
    instances: acdc.files.map((f) => ({ source: f.name, bytes: f.bytes })),
    truthLabels: acdc.labels,
    truthLabelValues: { ...info.labelValues },
    edInstances: at(info.edPhase),
    esInstances: at(info.esPhase),
    phasesGiven: true,
    group: info.group,
    seriesRules,
  };
}
