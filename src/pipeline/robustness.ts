/**
 * The robustness table (issue 14 item 3): the same patients evaluated clean and under each
 * perturbation of pipeline/perturb.ts, compared per structure, for LVEF and for quality control.
 * Pure: evaluation metrics in, rows and markdown out.
 */
import { GOOD_DICE, meanDice, SCORED_KEYS, type CaseResult, type EvalMetrics } from './evaluate.js';

/** One condition's evaluation (clean or a named perturbation). */
export interface RobustnessCondition {
  readonly name: string;
  readonly description: string;
  readonly metrics: EvalMetrics;
}

export interface RobustnessRow {
  readonly name: string;
  readonly description: string;
  readonly cases: number;
  /** key -> phase ('ed' | 'es' | 'mean' of the two) -> mean Dice over cases. */
  readonly dice: Record<string, { ed: number; es: number; mean: number }>;
  /** Mean over cases of each case's mean Dice (LV, MYO, RV at ED and ES). */
  readonly meanDice: number;
  readonly lvefMae: number;
  readonly diagnosisAccuracy: number;
  readonly qc: { pass: number; review: number; fail: number };
  /** Cases whose mean Dice is below GOOD_DICE, and how many of them quality control flagged (review or fail). */
  readonly poor: number;
  readonly poorFlagged: number;
  /** Mean ratio of the reference LV EDV under the perturbation to the clean reference, minus 1 (matched by case). */
  readonly referenceLvedvChange: number | null;
}

const mean = (values: readonly number[]): number => (values.length ? values.reduce((a, b) => a + b, 0) / values.length : Number.NaN);

function rowOf(condition: RobustnessCondition, clean: readonly CaseResult[] | undefined): RobustnessRow {
  const m = condition.metrics;
  const dice: RobustnessRow['dice'] = {};
  for (const key of SCORED_KEYS) {
    const ed = m.dice.ed?.[key]?.mean ?? Number.NaN;
    const es = m.dice.es?.[key]?.mean ?? Number.NaN;
    dice[key] = { ed, es, mean: (ed + es) / 2 };
  }
  const poor = m.perCase.filter((r) => meanDice(r) < GOOD_DICE);
  const cleanById = new Map((clean ?? []).map((r) => [r.id, r]));
  const ratios = m.perCase.flatMap((r) => {
    const before = cleanById.get(r.id)?.truth.lvedv_ml;
    const after = r.truth.lvedv_ml;
    return before !== undefined && after !== undefined && before > 0 ? [after / before - 1] : [];
  });
  return {
    name: condition.name,
    description: condition.description,
    cases: m.cases,
    dice,
    meanDice: mean(m.perCase.map(meanDice)),
    lvefMae: m.measurements.lvef_pct?.mae ?? Number.NaN,
    diagnosisAccuracy: m.diagnosis.accuracy,
    qc: { pass: m.qc.pass, review: m.qc.review, fail: m.qc.fail },
    poor: poor.length,
    poorFlagged: poor.filter((r) => r.qc.status !== 'pass').length,
    referenceLvedvChange: ratios.length ? mean(ratios) : null,
  };
}

/** Rows in the given order; the first condition is the clean baseline the others are compared with. */
export function robustnessRows(conditions: readonly RobustnessCondition[]): RobustnessRow[] {
  const clean = conditions[0]?.metrics.perCase;
  return conditions.map((c) => rowOf(c, clean));
}

const fmt = (v: number, digits = 3): string => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');
const signed = (v: number, digits = 3): string => (Number.isFinite(v) ? `${v > 0 ? '+' : v < 0 ? '−' : '±'}${Math.abs(v).toFixed(digits)}` : 'n/a');

/**
 * The markdown tables: per structure the mean of ED and ES Dice with the difference from clean, RV at
 * ES (the weak spot), the mean Dice, LVEF MAE, diagnosis accuracy and QC verdicts; then Dice per phase.
 */
export function robustnessMarkdown(rows: readonly RobustnessRow[]): string {
  const base = rows[0];
  if (!base) return '';
  const lines: string[] = [];
  lines.push(
    '| condition | LV | MYO | RV | RV ES | mean Dice | LVEF MAE (points) | diagnosis accuracy | QC pass / review / fail | mean Dice < 0.8: flagged | reference LV EDV vs clean |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const r of rows) {
    const cmp = (v: number, b: number, digits = 3) => (r === base ? fmt(v, digits) : `${fmt(v, digits)} (${signed(v - b, digits)})`);
    const structure = (key: string) => cmp(r.dice[key]!.mean, base.dice[key]!.mean);
    lines.push(
      `| ${r.name} | ${structure('lv')} | ${structure('myo')} | ${structure('rv')} | ${cmp(r.dice.rv!.es, base.dice.rv!.es)} | ${cmp(r.meanDice, base.meanDice)} | ${cmp(r.lvefMae, base.lvefMae, 2)} | ${fmt(r.diagnosisAccuracy, 2)} | ${r.qc.pass} / ${r.qc.review} / ${r.qc.fail} | ${r.poor ? `${r.poorFlagged} of ${r.poor}` : '—'} | ${r === base || r.referenceLvedvChange === null ? '' : `${signed(r.referenceLvedvChange * 100, 0)} %`} |`,
    );
  }
  lines.push('', '| condition | what | LV ED | LV ES | MYO ED | MYO ES | RV ED | RV ES |', '| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    const d = (key: string, phase: 'ed' | 'es') => fmt(r.dice[key]![phase]);
    lines.push(`| ${r.name} | ${r.description} | ${d('lv', 'ed')} | ${d('lv', 'es')} | ${d('myo', 'ed')} | ${d('myo', 'es')} | ${d('rv', 'ed')} | ${d('rv', 'es')} |`);
  }
  return `${lines.join('\n')}\n`;
}
