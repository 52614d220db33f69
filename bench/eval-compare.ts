/**
 * Two `pulse eval --out` reports of the same patients side by side (e.g. PULSE-lite in float and its
 * int8 variant): Dice per structure and phase with the difference, measurement errors, diagnosis, the
 * largest per-patient Dice change, as one markdown table on stdout.
 *
 *   node dist/bench/eval-compare.js models/pulse-lite/eval-val.json models/pulse-lite-int8/eval-val.json
 */
import { readFileSync } from 'node:fs';

interface Stat { mean: number; sd: number; n: number }
interface EvalReport {
  model: { name: string; version: string };
  dice: Record<string, Record<string, Stat>>;
  measurements: Record<string, { mae: number; bias: number }>;
  diagnosis: { accuracy: number; macroF1: number };
  perCase: Array<{ id: string; predictedGroup: string; dice: Record<string, Record<string, number>> }>;
}

const [first, second] = process.argv.slice(2);
if (!first || !second) {
  process.stderr.write('usage: node dist/bench/eval-compare.js <eval A.json> <eval B.json>\n');
  process.exit(2);
}
const a = JSON.parse(readFileSync(first, 'utf8')) as EvalReport;
const b = JSON.parse(readFileSync(second, 'utf8')) as EvalReport;
const nameA = `${a.model.name} ${a.model.version}`;
const nameB = `${b.model.name} ${b.model.version}`;
const casesB = new Map(b.perCase.map((c) => [c.id, c]));
if (a.perCase.length !== b.perCase.length || a.perCase.some((c) => !casesB.has(c.id))) throw new Error('the two reports do not hold the same patients');

const signed = (v: number, digits: number) => `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(digits)}`;
const lines = [`| | ${nameA} | ${nameB} | difference |`, '| --- | --- | --- | --- |'];
const differences: number[] = [];
for (const phase of Object.keys(a.dice)) {
  for (const structure of Object.keys(a.dice[phase]!)) {
    const x = a.dice[phase]![structure]!.mean;
    const y = b.dice[phase]![structure]!.mean;
    differences.push(y - x);
    lines.push(`| Dice ${structure} ${phase.toUpperCase()} | ${x.toFixed(4)} | ${y.toFixed(4)} | ${signed(y - x, 4)} |`);
  }
}
const meanDifference = differences.reduce((s, d) => s + d, 0) / differences.length;
lines.push(`| mean Dice (${differences.length} structure-phases) | ${(Object.values(a.dice).flatMap((p) => Object.values(p).map((s) => s.mean)).reduce((s, v) => s + v, 0) / differences.length).toFixed(4)} | ${(Object.values(b.dice).flatMap((p) => Object.values(p).map((s) => s.mean)).reduce((s, v) => s + v, 0) / differences.length).toFixed(4)} | ${signed(meanDifference, 4)} |`);
for (const [key, m] of Object.entries(a.measurements)) {
  const other = b.measurements[key];
  if (other) lines.push(`| ${key} MAE (bias) | ${m.mae.toFixed(2)} (${signed(m.bias, 2)}) | ${other.mae.toFixed(2)} (${signed(other.bias, 2)}) | ${signed(other.mae - m.mae, 2)} |`);
}
lines.push(`| diagnosis accuracy / macro-F1 | ${a.diagnosis.accuracy.toFixed(3)} / ${a.diagnosis.macroF1.toFixed(3)} | ${b.diagnosis.accuracy.toFixed(3)} / ${b.diagnosis.macroF1.toFixed(3)} | ${a.perCase.filter((c) => casesB.get(c.id)!.predictedGroup !== c.predictedGroup).length} of ${a.perCase.length} patients called differently |`);
let largest = { change: 0, where: '' };
for (const c of a.perCase) {
  const other = casesB.get(c.id)!;
  for (const [phase, structures] of Object.entries(c.dice)) {
    for (const [structure, value] of Object.entries(structures)) {
      const change = (other.dice[phase]?.[structure] ?? Number.NaN) - value;
      if (Math.abs(change) > Math.abs(largest.change)) largest = { change, where: `${c.id} ${structure} ${phase.toUpperCase()}` };
    }
  }
}
lines.push(`| largest per-patient Dice change | | | ${signed(largest.change, 4)} (${largest.where}) |`);
process.stdout.write(`${lines.join('\n')}\n`);
