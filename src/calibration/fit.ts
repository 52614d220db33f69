/**
 * A calibration from annotated studies, start to decision: score what runs now on every study, then
 * each candidate adapter leave-one-study-out (every fold fitted without the study it scores), pick the
 * candidate the held-out studies favour, decide promotion by the rule, and fit the chosen candidate on
 * all studies. Candidates: the segmentation head alone, and the intensity map + head.
 *
 * The maths is pure; running the frozen network on a study (with or without an intensity map) is a
 * function handed in by the pipeline (`featurize`), so this module does no I/O.
 */
import type { LogitAdapter } from '../model/segment-stack.js';
import { DEFAULT_CONTEXT, referenceLvFigures, scoreCase, scoreEndToEnd, summarise, summariseEndToEnd, trainingSamples, type CalibrationCase, type CaseScore, type EndToEndScore, type LvFigures, type SampleOptions } from './cases.js';
import { fitLinearHead, linearHeadAdapter, type FitHeadOptions, type LinearHeadParameters } from './head.js';
import { fitIntensityMap, type IntensityMapParameters, type IntensitySamples } from './intensity.js';
import { endToEndDecision, promotionDecision, type CalibrationMetrics, type PromotionRule } from './profile.js';

/** One annotated study as the fit sees it. */
export interface CalibrationInput {
  /** Annotated pixels' intensities in the model's input space (for the intensity map). */
  readonly intensity: IntensitySamples;
  /** The frozen network's features of the annotated phases, through an intensity map or none. */
  featurize(map: IntensityMapParameters | null): Promise<CalibrationCase>;
  /**
   * The whole pipeline on the study (every phase through the network, its own ED/ES choice, clean-up,
   * measurements) through an adapter and intensity map: the LV figures the user would get, or null
   * when it found no LV. Leave it out and the gate judges on the annotated frames only.
   */
  endToEnd?(adapter: LogitAdapter | undefined, map: IntensityMapParameters | null): Promise<LvFigures | null>;
}

export type AdapterCandidate = 'head' | 'intensity+head';

export interface FitCalibrationOptions {
  /** What runs now for these studies, or undefined for the bare model. */
  readonly active?: { readonly id: string; readonly adapter: LogitAdapter; readonly intensity: IntensityMapParameters | null };
  readonly rule: PromotionRule;
  /** Candidates to try. @defaultValue ['head', 'intensity+head'] */
  readonly candidates?: readonly AdapterCandidate[];
  readonly head?: FitHeadOptions;
  readonly samples?: SampleOptions;
  /** Evaluate leave-one-study-out (and choose among candidates); off: fit the first candidate only (measurement scripts). @defaultValue true */
  readonly leaveOneOut?: boolean;
  /** Called after each unit of work (for a progress bar). */
  readonly onProgress?: (done: number, total: number, what: string) => void;
  /** Stops the fit at its next unit of work (the signal's reason is thrown). */
  readonly signal?: AbortSignal;
}

export interface FittedCalibration {
  readonly candidate: AdapterCandidate;
  readonly head: LinearHeadParameters;
  readonly intensity: IntensityMapParameters | null;
  readonly metrics: CalibrationMetrics | null;
  /** Leave-one-study-out summary of every candidate tried. */
  readonly candidates: Readonly<Record<string, CalibrationMetrics['after']>>;
  readonly promoted: boolean;
  readonly reason: string;
  readonly fit: Readonly<Record<string, number | string>>;
}

function mergeIntensity(inputs: readonly CalibrationInput[]): IntensitySamples {
  const length = inputs.reduce((n, i) => n + i.intensity.values.length, 0);
  const values = new Float32Array(length);
  const labels = new Uint8Array(length);
  let at = 0;
  for (const input of inputs) {
    values.set(input.intensity.values, at);
    labels.set(input.intensity.labels, at);
    at += input.intensity.values.length;
  }
  return { values, labels };
}

const meanDice = (m: CalibrationMetrics['after']): number => {
  const values = Object.values(m.dice).filter((v): v is number => typeof v === 'number');
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0;
};

export async function fitCalibration(inputs: readonly CalibrationInput[], options: FitCalibrationOptions): Promise<FittedCalibration> {
  if (inputs.length === 0) throw new RangeError('K = 0: a calibration needs at least one annotated study');
  const candidates = options.candidates ?? ['head', 'intensity+head'];
  const k = inputs.length;
  const loso = k >= 2 && (options.leaveOneOut ?? true);
  const endToEnd = loso && inputs.every((i) => i.endToEnd !== undefined);
  const total = 1 + (loso ? 1 + candidates.length * k : 0) + (endToEnd ? 2 * k : 0) + 1;
  let done = 0;
  options.signal?.throwIfAborted();
  const tick = async (what: string) => {
    options.onProgress?.(++done, total, what);
    // Between the (synchronous, seconds-long) units of work: let a stop request arrive, and honour it.
    await new Promise((resolve) => setImmediate(resolve));
    options.signal?.throwIfAborted();
  };

  const bare = await Promise.all(inputs.map((i) => i.featurize(null)));
  await tick('features of the annotated phases');
  const first = bare[0]!;
  const context = options.samples?.context ?? DEFAULT_CONTEXT;
  const F = first.featureDims[0] * (context > 0 ? 2 : 1);
  const K = first.labelValues.length;
  const fitHead = (cases: readonly CalibrationCase[]) => ({ ...fitLinearHead(trainingSamples(cases, options.samples), F, K, options.head), ...(context > 0 ? { context } : {}) });

  let metrics: CalibrationMetrics | null = null;
  const tried: Record<string, CalibrationMetrics['after']> = {};
  let chosen: AdapterCandidate = candidates[0] ?? 'head';
  // The chosen candidate's fold adapters, for the end-to-end check of each held-out study.
  const folds = new Map<AdapterCandidate, Array<{ head: LinearHeadParameters; map: IntensityMapParameters | null }>>();
  if (loso) {
    const current = options.active?.intensity ? await Promise.all(inputs.map((i) => i.featurize(options.active!.intensity))) : bare;
    const before: CaseScore[] = current.map((c) => scoreCase(c, options.active?.adapter));
    await tick('scored what runs now');
    const perCandidate = new Map<AdapterCandidate, CaseScore[]>();
    for (const candidate of candidates) {
      const after: CaseScore[] = [];
      const fitted: Array<{ head: LinearHeadParameters; map: IntensityMapParameters | null }> = [];
      for (let i = 0; i < k; i++) {
        let cases = bare;
        let map: IntensityMapParameters | null = null;
        if (candidate === 'intensity+head') {
          map = fitIntensityMap(mergeIntensity(inputs.filter((_, j) => j !== i)));
          cases = await Promise.all(inputs.map((input) => input.featurize(map)));
        }
        const head = fitHead(cases.filter((_, j) => j !== i));
        fitted.push({ head, map });
        after.push(scoreCase(cases[i]!, linearHeadAdapter(head)));
        await tick(`${candidate}: fold ${i + 1}/${k}`);
      }
      perCandidate.set(candidate, after);
      folds.set(candidate, fitted);
      tried[candidate] = summarise(after);
    }
    chosen = [...perCandidate.keys()].sort((a, b) => meanDice(tried[b]!) - meanDice(tried[a]!))[0]!;
    const after = perCandidate.get(chosen)!;
    metrics = { against: options.active?.id ?? 'bare model', before: summarise(before), after: summarise(after), perStudy: { before, after } };
  }
  const intensity = chosen === 'intensity+head' ? fitIntensityMap(mergeIntensity(inputs)) : null;
  const cases = intensity ? await Promise.all(inputs.map((i) => i.featurize(intensity))) : bare;
  const head = fitHead(cases);
  await tick('final fit');

  let decision =
    k < options.rule.minStudies || metrics === null
      ? { promoted: false, reason: `${k} annotated ${k === 1 ? 'study' : 'studies'}: at least ${Math.max(options.rule.minStudies, 2)} are needed to evaluate leave-one-study-out` }
      : promotionDecision(metrics.before, metrics.after, options.rule);

  // The annotated frames are not what the user gets: the pipeline runs every phase and picks ED and
  // ES itself, so a head that finds spurious structure in unannotated phases can look better above
  // and be worse here. Checked only when the annotation-level rule would promote (it costs two
  // whole-study runs per study).
  if (endToEnd && metrics !== null && decision.promoted) {
    const scored = bare.map((c, i) => ({ i, reference: referenceLvFigures(c) })).filter((s): s is { i: number; reference: LvFigures } => s.reference !== undefined);
    const before: EndToEndScore[] = [];
    const after: EndToEndScore[] = [];
    const chosenFolds = folds.get(chosen)!;
    for (const { i, reference } of scored) {
      const input = inputs[i]!;
      before.push(scoreEndToEnd(bare[i]!.key, reference, await input.endToEnd!(options.active?.adapter, options.active?.intensity ?? null)));
      await tick(`end to end: what runs now, study ${i + 1}/${k}`);
      const fold = chosenFolds[i]!;
      after.push(scoreEndToEnd(bare[i]!.key, reference, await input.endToEnd!(linearHeadAdapter(fold.head), fold.map)));
      await tick(`end to end: ${chosen}, study ${i + 1}/${k}`);
    }
    const summaryBefore = summariseEndToEnd(before);
    const summaryAfter = summariseEndToEnd(after);
    if (summaryBefore && summaryAfter) {
      metrics = { ...metrics, endToEnd: { before: summaryBefore, after: summaryAfter, perStudy: { before, after } } };
      const veto = endToEndDecision(summaryBefore, summaryAfter, options.rule);
      decision = veto.promoted ? { promoted: true, reason: `${decision.reason}; ${veto.reason}` } : veto;
    } else {
      metrics = { ...metrics, endToEnd: null };
    }
  }
  if (done < total) options.onProgress?.((done = total), total, 'decided');
  return {
    candidate: chosen,
    head,
    intensity,
    metrics,
    candidates: tried,
    ...decision,
    fit: {
      method: `${chosen === 'intensity+head' ? 'class-conditional intensity map + ' : ''}multinomial logistic regression (classes balanced by sampling) on decoder features, their ${2 * context + 1}x${2 * context + 1} context and the bare logits (L2 towards the bare head)`,
      context,
      backgroundRatio: options.samples?.backgroundRatio ?? 3,
      classWeights: options.head?.classWeights ?? 'none',
      candidate: chosen,
      samples: trainingSamples(cases, options.samples).count,
      l2: options.head?.l2 ?? 1e-3,
      iterations: options.head?.iterations ?? 150,
      learningRate: options.head?.learningRate ?? 0.05,
      perStudySamples: options.samples?.perStudy ?? 3000,
    },
  };
}
