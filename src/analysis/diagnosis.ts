/**
 * The study-level diagnosis: the manifest's study head (run by the injected runner, so this pure core
 * never owns onnxruntime), logits divided by the calibrated temperature, softmax, argmax.
 */
import type { Manifest } from '../model/manifest.js';
import { PROBABILITY_DECIMALS, roundTo } from './conventions.js';

export type StudyHeadRunner = (input: Float32Array, dims: readonly number[]) => Promise<Float32Array>;

export interface DiagnosisResult {
  readonly label: string;
  readonly probabilities: Readonly<Record<string, number>>;
}

/** softmax(logits / temperature), computed stably (max subtracted). */
export function softmaxWithTemperature(logits: ArrayLike<number>, temperature: number): number[] {
  if (!(temperature > 0)) throw new Error(`softmax temperature must be positive, got ${temperature}`);
  const scaled = Array.from(logits, (v) => v / temperature);
  if (scaled.some((v) => !Number.isFinite(v))) throw new Error('study head returned a non-finite logit');
  const max = Math.max(...scaled);
  const exps = scaled.map((v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

/** Turns head logits into the result's diagnosis (label = argmax, earliest group on a tie). */
export function diagnosisFromLogits(logits: ArrayLike<number>, diagnosis: Manifest['diagnosis']): DiagnosisResult {
  const groups = diagnosis.groups;
  if (logits.length !== groups.length) {
    throw new Error(`study head returned ${logits.length} logits for ${groups.length} diagnosis groups (model manifest diagnosis.groups)`);
  }
  const p = softmaxWithTemperature(logits, diagnosis.studyHead.temperature ?? 1);
  let best = 0;
  for (let g = 1; g < p.length; g++) if (p[g]! > p[best]!) best = g;
  const probabilities = Object.fromEntries(groups.map((group, g) => [group.name, roundTo(p[g]!, PROBABILITY_DECIMALS)]));
  return { label: groups[best]!.name, probabilities };
}

/** Runs the study head on a standardised feature vector ([1, F]) and returns the diagnosis. */
export async function diagnose(standardised: Float32Array, diagnosis: Manifest['diagnosis'], runStudyHead: StudyHeadRunner): Promise<DiagnosisResult> {
  const logits = await runStudyHead(standardised, [1, standardised.length]);
  return diagnosisFromLogits(logits, diagnosis);
}
