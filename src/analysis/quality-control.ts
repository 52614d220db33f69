/**
 * Quality control of every result, from the result itself (docs/quality-control.md gives each rule
 * its source): plausibility of the numbers and of the segmentation's shape, whether the stack covers
 * the heart from base to apex, image noise against the blood pool, model confidence, and an
 * out-of-distribution score of the study's embeddings against the training data.
 *
 * fail   = a result no reader should see as findings (impossible numbers, a missing ventricle, a
 *          study far from anything the model was trained on);
 * review = findings kept, with a caution (unusual but possible values, low confidence, OOD);
 * pass   = none of the above.
 */
import type { ResultMeasurements } from '../core/result.js';
import { studyDisagreement, type ImageUncertainty, type SliceConfidence } from '../model/confidence.js';
import { fillHoles } from '../model/components.js';
import type { CineGrid, LabelMap } from '../study/types.js';
import { phaseAreas } from './areas.js';
import { bsaMosteller } from './conventions.js';
import { studyOod, type QcReference } from './ood.js';
import type { NarrativeText } from './narrative.js';
import { median } from '../util/median.js';

export type QcStatus = 'pass' | 'review' | 'fail';

/** One reason, machine-readable code plus a sentence without patient data. */
export interface QcReason {
  readonly code: string;
  readonly severity: 'review' | 'fail';
  /** With the numbers behind it (result.json, logs). */
  readonly text: string;
  /** Without any number (the SR narrative states no number that is not a measurement in it). */
  readonly summary: string;
}

/** result.json's qc block. */
export interface QualityControl {
  readonly status: QcStatus;
  /** Sentences, most severe first (result.json). */
  readonly reasons: readonly string[];
  /** Study OOD score: median Mahalanobis distance of its image embeddings (null without a reference). */
  readonly ood: number | null;
  /** Agreement across test-time flips, only when they ran (model.tta 'flips'). */
  readonly uncertainty?: StudyUncertainty;
}

/** result.json's qc.uncertainty: how much the test-time transforms disagree, per structure. */
export interface StudyUncertainty {
  readonly method: 'test-time-flips';
  /** Transforms run per image, identity included. */
  readonly transforms: number;
  /**
   * Per segment key: 1 - (pixels all transforms label with the structure) / (pixels any transform
   * labels with it), over every image of the stack on the model grid; null when no transform found it.
   */
  readonly disagreement: Readonly<Record<string, number | null>>;
}

export interface QualityControlDetail extends QualityControl {
  readonly details: readonly QcReason[];
  /** The numbers behind the rules, for evaluation and logs. */
  readonly metrics: Readonly<Record<string, number>>;
}

export interface QualityControlInput {
  readonly grid: CineGrid;
  readonly labelMaps: ReadonlyArray<ReadonlyArray<LabelMap>>;
  /** Label value of 'lv', 'myo', 'rv' in the label maps. */
  readonly labelValues: Readonly<Record<string, number>>;
  readonly phases: { readonly ed: number; readonly es: number };
  /** LV cavity volume per phase (ml). */
  readonly lvVolumeCurveMl: readonly number[];
  readonly measurements: ResultMeasurements;
  /** ED/ES were given from outside (ACDC): the volume-curve rule does not apply. */
  readonly phasesGiven: boolean;
  readonly patientSizeM?: number;
  readonly patientWeightKg?: number;
  readonly confidence?: ReadonlyArray<ReadonlyArray<SliceConfidence | undefined>>;
  readonly embeddings?: ReadonlyArray<ReadonlyArray<ArrayLike<number> | undefined>>;
  readonly reference?: QcReference;
  /** Agreement across test-time transforms per image (only when they ran), with each segment key's logit channel. */
  readonly uncertainty?: {
    readonly images: ReadonlyArray<ReadonlyArray<ImageUncertainty | undefined>>;
    readonly channels: ReadonlyArray<{ readonly key: string; readonly channel: number }>;
    /** Per segment key: a disagreement above it asks for review (the manifest's uncertainty procedure); none: reported only. */
    readonly reviewAbove?: Readonly<Record<string, number>>;
  };
}

/**
 * Wide physiological ranges, indexed to body-surface area (ml/m², g/m²). Outside `fail`: not a
 * human ventricle as measured by CMR; outside `review`: possible only in severe disease, check it.
 * Normal adult CMR ranges (Kawel-Boehm et al. 2020, JCMR 22:87) are LVEDVi about 55-105, RVEDVi
 * 60-120, LV mass index 40-90; dilated cardiomyopathy reaches LVEDVi 200+.
 */
export const INDEXED_RANGES = {
  lvedv_ml: { fail: [15, 350], review: [35, 250] },
  rvedv_ml: { fail: [15, 400], review: [35, 300] },
  lv_mass_g: { fail: [10, 300], review: [25, 200] },
} as const;

/** BSA assumed when height or weight is unknown (an average adult; the ranges are wide enough). */
export const DEFAULT_BSA_M2 = 1.9;

/**
 * Coverage of the ventricles along the stack (docs/quality-control.md, "Coverage of the heart"),
 * measured on the 100 ACDC training patients clean and without their apical or basal third, and on
 * synthetic studies (bench/coverage-eval.ts, `npm run coverage-eval`).
 */
export const COVERAGE_LIMITS = {
  /** LV section (cavity + myocardium) on the stack's apical end slice over the largest one: at or above, the apex is cut (clean ACDC at most 0.48). */
  apexEndRatio: 0.5,
  /** Length of the slices with LV over the largest LV section's equivalent diameter: below it the stack is short for the heart (clean ACDC at least 0.8). */
  lengthToDiameter: 0.8,
  /** ...and the basal end slice holds at least this share of the largest section (the heart is cut there, not tapering). */
  baseEndRatio: 0.9,
  /** Slices under which coverage is not judged (too few to tell the base from the apex). */
  minSlices: 4,
  /** Slices whose LV section is under this share of the largest do not count as heart (a stray label beyond the base or apex). */
  heartShare: 0.1,
} as const;

/**
 * Image noise relative to the blood pool (Immerkær's estimate over the whole image, median over the
 * ED slices, over the mean of the LV cavity): above it, review (docs/quality-control.md, "Image
 * noise"; clean ACDC at most 0.055, Rician noise of 8 % of the 99th percentile at least 0.074).
 */
export const NOISE_REVIEW_ABOVE = 0.065;

/**
 * Share of a phase's LV cavity that lies inside the ED left ventricle (cavity and myocardium, holes
 * filled per slice): under `review`, review; under `fail`, fail (docs/quality-control.md, "The same
 * ventricle in every phase"). The heart contracts inward, so the cavity of every phase lies within the
 * ED ventricle: the experts' ES labels of the 100 ACDC patients keep at least 0.90 of it. A network
 * that calls the RV the LV in some phase keeps almost none (0.06 in a held-out patient of fold 0).
 * A swap at ED itself is the ED enclosure rule's: the RV is not ringed by myocardium.
 */
export const LV_IN_ED_LIMITS = { review: 0.8, fail: 0.5 } as const;

/** Number-free wording of each reason code, for the SR and the narrative. */
export const SUMMARIES: Readonly<Record<string, string>> = {
  lv_absent: 'no left-ventricular cavity was found',
  rv_absent: 'no right-ventricular cavity was found',
  lvef_implausible: 'the left-ventricular ejection fraction is physiologically implausible',
  rvef_implausible: 'the right-ventricular ejection fraction is physiologically implausible',
  lv_esv_exceeds_edv: 'the left-ventricular end-systolic volume exceeds the end-diastolic volume',
  rv_esv_exceeds_edv: 'the right-ventricular end-systolic volume exceeds the end-diastolic volume',
  lvedv_ml_implausible: 'the left-ventricular end-diastolic volume is outside any physiological range',
  rvedv_ml_implausible: 'the right-ventricular end-diastolic volume is outside any physiological range',
  lv_mass_g_implausible: 'the left-ventricular mass is outside any physiological range',
  lvedv_ml_unusual: 'the left-ventricular end-diastolic volume is unusual for the body size',
  rvedv_ml_unusual: 'the right-ventricular end-diastolic volume is unusual for the body size',
  lv_mass_g_unusual: 'the left-ventricular mass is unusual for the body size',
  lv_slices_not_contiguous: 'the left ventricle is missing on slices between base and apex',
  lv_moved_between_phases: 'the left-ventricular cavity lies outside the end-diastolic left ventricle in some phase (the ventricles may be mislabelled there)',
  slices_out_of_order: 'the slices do not follow the heart from base to apex (out of anatomical order)',
  myo_not_around_lv: 'the myocardium does not surround the left-ventricular cavity on mid-ventricular slices',
  volume_curve_not_one_systole: 'the ventricular volume curve does not show one systole',
  apex_not_covered: 'the stack does not reach the apex: the volumes and ejection fractions hold only the covered part of the heart',
  base_not_covered: 'the stack does not seem to reach the base: the volumes and ejection fractions may hold only part of the heart',
  noisy_images: 'the images are noisy, which makes the segmentation less reliable',
  low_confidence: 'the model is unsure of the segmentation',
  uncertain_segmentation: 'the segmentation changes when the images are flipped (the model is unsure of a boundary)',
  out_of_distribution: 'the images differ from the data the model was trained on; site calibration is suggested',
  outlier_images: 'part of the images look unlike any training image (corrupt or foreign images)',
};

const fmt = (v: number, decimals = 1): string => (Number.isFinite(v) ? v.toFixed(decimals) : String(v));

/** Share of LV-cavity boundary pixels that touch myocardium (4-neighbours) on one label map. */
export function myocardialEnclosure(map: LabelMap, lv: number, myo: number): number | undefined {
  const { rows, columns } = map.image.plane;
  const labels = map.labels;
  let boundary = 0;
  let enclosed = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) {
      const i = r * columns + c;
      if (labels[i] !== lv) continue;
      const neighbours = [r > 0 ? i - columns : -1, r < rows - 1 ? i + columns : -1, c > 0 ? i - 1 : -1, c < columns - 1 ? i + 1 : -1];
      let onBoundary = false;
      let touchesMyo = false;
      for (const n of neighbours) {
        const v = n < 0 ? 0 : labels[n];
        if (v !== lv) onBoundary = true;
        if (v === myo) touchesMyo = true;
      }
      if (onBoundary) {
        boundary++;
        if (touchesMyo) enclosed++;
      }
    }
  }
  return boundary === 0 ? undefined : enclosed / boundary;
}

/**
 * Number of separate systoles: local minima of the (circular) volume curve deeper than `depth` x
 * range on both sides. 0.4: a one-phase segmentation glitch of a third of the stroke volume is not a
 * second heartbeat.
 */
export function countSystoles(curve: readonly number[], depth = 0.4): number {
  const n = curve.length;
  if (n < 6) return 1;
  const max = Math.max(...curve);
  const min = Math.min(...curve);
  const range = max - min;
  if (!(range > 0)) return 0;
  // Walk the curve from its maximum with hysteresis: a minimum counts once the curve has risen
  // `depth` x range above it again (after falling as much from the previous maximum).
  const start = curve.indexOf(max);
  let count = 0;
  let lookingForMin = true;
  let extreme = max;
  for (let k = 1; k <= n; k++) {
    const v = curve[(start + k) % n]!;
    if (lookingForMin) {
      if (v < extreme) extreme = v;
      else if (v - extreme > depth * range && max - extreme > depth * range) {
        count++;
        lookingForMin = false;
        extreme = v;
      }
    } else if (v > extreme) extreme = v;
    else if (extreme - v > depth * range) {
      lookingForMin = true;
      extreme = v;
    }
  }
  return Math.max(count, 1);
}

/**
 * Peaks of a profile along the stack that stand out by more than `depth` x range on both sides.
 * The profile is padded with zero at both ends: beyond the stack there is no ventricle.
 */
export function countPeaks(values: readonly number[], depth = 0.3): number {
  const padded = [0, ...values, 0];
  const range = Math.max(...padded) - Math.min(...padded);
  if (!(range > 0)) return 0;
  let peaks = 0;
  let rising = true;
  let low = 0;
  let high = 0;
  for (const v of padded) {
    if (rising) {
      if (v > high) high = v;
      else if (high - v > depth * range && high - low > depth * range) {
        peaks++;
        rising = false;
        low = v;
      }
    } else if (v < low) low = v;
    else if (v - low > depth * range) {
      rising = true;
      high = v;
    }
  }
  return Math.max(peaks, 1);
}

export function assessQuality(input: QualityControlInput): QualityControlDetail {
  const reasons: QcReason[] = [];
  const metrics: Record<string, number> = {};
  const add = (code: string, severity: 'review' | 'fail', text: string): void => void reasons.push({ code, severity, text, summary: SUMMARIES[code] ?? code });
  const m = input.measurements;
  const lv = input.labelValues.lv;
  const myo = input.labelValues.myo;
  const rv = input.labelValues.rv;

  // 1. Both ventricles present.
  if (!(m.lvedv_ml >= 5)) add('lv_absent', 'fail', 'no left-ventricular cavity was found (LV EDV under 5 ml)');
  if (!(m.rvedv_ml >= 5)) add('rv_absent', 'fail', 'no right-ventricular cavity was found (RV EDV under 5 ml)');

  // 2. Ejection fractions and ESV <= EDV.
  // An EF just below zero is a ventricle that does not eject, measured with a few per cent of volume
  // error (ACDC holds a DCM patient with RVEF 3.9 %): review, not fail. Below -5 % the ESV exceeds
  // the EDV by more than measurement error: fail.
  for (const [key, name, side] of [['lvef_pct', 'LVEF', 'lv'], ['rvef_pct', 'RVEF', 'rv']] as const) {
    const v = m[key];
    if (!(v >= -5 && v <= 90)) add(`${key.slice(0, 4)}_implausible`, 'fail', `${name} ${fmt(v)} % is outside 0-90 %`);
    else if (v < 0) add(`${side}_esv_exceeds_edv`, 'review', `${name} ${fmt(v)} %: end-systolic volume at or above end-diastolic volume (no measurable ejection)`);
  }

  // 3. Volumes and mass in wide ranges scaled by BSA.
  const bsa = input.patientSizeM !== undefined && input.patientWeightKg !== undefined ? bsaMosteller(input.patientSizeM, input.patientWeightKg) : DEFAULT_BSA_M2;
  metrics.bsa_m2 = bsa;
  for (const [key, range] of Object.entries(INDEXED_RANGES)) {
    const value = m[key];
    if (typeof value !== 'number') continue;
    const indexed = value / bsa;
    metrics[`${key}_indexed`] = indexed;
    const unit = key.endsWith('_g') ? 'g/m²' : 'ml/m²';
    const label = key === 'lv_mass_g' ? 'LV mass' : key === 'lvedv_ml' ? 'LV EDV' : 'RV EDV';
    if (indexed < range.fail[0] || indexed > range.fail[1]) add(`${key}_implausible`, 'fail', `${label} ${fmt(indexed)} ${unit} is outside ${range.fail[0]}-${range.fail[1]} ${unit}`);
    else if (indexed < range.review[0] || indexed > range.review[1]) add(`${key}_unusual`, 'review', `${label} ${fmt(indexed)} ${unit} is outside ${range.review[0]}-${range.review[1]} ${unit}`);
  }

  // 4. Shape at ED: LV slices contiguous, myocardium around the cavity on mid slices.
  if (lv !== undefined && myo !== undefined) {
    const ed = input.phases.ed;
    const withLv = input.labelMaps.map((row) => (row[ed]?.labels.includes(lv) ? 1 : 0));
    const first = withLv.indexOf(1);
    const last = withLv.lastIndexOf(1);
    if (first >= 0) {
      const holes = withLv.slice(first, last + 1).filter((v) => v === 0).length;
      metrics.lv_slice_gaps = holes;
      if (holes > 0) add('lv_slices_not_contiguous', 'review', `the LV cavity is missing on ${holes} slice(s) between base and apex`);
      const span = last - first + 1;
      const mid = Array.from({ length: span }, (_, k) => first + k).filter((s) => s >= first + span / 3 - 0.5 && s <= last - span / 3 + 0.5 && withLv[s] === 1);
      const enclosure = mid.map((s) => myocardialEnclosure(input.labelMaps[s]![ed]!, lv, myo)).filter((v): v is number => v !== undefined);
      if (enclosure.length > 0) {
        // The upper middle value for an even count (as measured for the thresholds), not the mean of the two.
        const enclosed = [...enclosure].sort((a, b) => a - b)[Math.floor(enclosure.length / 2)]!;
        metrics.myo_enclosure = enclosed;
        if (enclosed < 0.5) add('myo_not_around_lv', 'fail', `the myocardium surrounds only ${fmt(enclosed * 100, 0)} % of the LV cavity on mid-ventricular slices`);
        else if (enclosed < 0.8) add('myo_not_around_lv', 'review', `the myocardium surrounds only ${fmt(enclosed * 100, 0)} % of the LV cavity on mid-ventricular slices`);
      }
    }
  }
  if (rv === undefined) add('rv_absent', 'fail', 'the model has no RV segment');

  // Areas of each structure per slice at ED: the order (4b) and coverage (4c) rules read them.
  const edAreas = phaseAreas(input.labelMaps, input.phases.ed, input.labelValues);

  // 4b. Anatomical order along the stack: at ED the LV cavity area rises from the base and falls to
  // the apex, one peak. Slices whose positions do not match their anatomy (scrambled
  // ImagePositionPatient, mixed stacks) give several peaks.
  if (lv !== undefined && input.labelMaps.length >= 5) {
    const peaks = countPeaks(edAreas.lv!);
    metrics.lv_area_peaks = peaks;
    if (peaks > 1) add('slices_out_of_order', 'review', `the LV cavity area along the stack has ${peaks} peaks, not one (slices out of anatomical order?)`);
  }

  // 4c. Coverage of the ventricles along the stack at ED: a complete stack tapers to the apex, and
  // the heart spans more than its own width. A stack that stops with a large section at an end has
  // cut the heart there: its volumes and EF belong to the covered part only.
  if (lv !== undefined && myo !== undefined && rv !== undefined && input.labelMaps.length >= COVERAGE_LIMITS.minSlices) {
    const coverage = stackCoverage(edAreas, sliceSpacing(input.grid.slicePositionsMm));
    if (coverage) {
      metrics.apex_end_ratio = coverage.apexEndRatio;
      metrics.base_end_ratio = coverage.baseEndRatio;
      if (Number.isFinite(coverage.lengthToDiameter)) metrics.length_to_diameter = coverage.lengthToDiameter;
      const n = input.labelMaps.length;
      const endSlice = (end: 'first' | 'last') => `the ${end} slice of the stack (${end === 'first' ? 1 : n} of ${n})`;
      const baseEnd = coverage.apexAt === 'first' ? 'last' : 'first';
      if (coverage.apexEndRatio >= COVERAGE_LIMITS.apexEndRatio) {
        add('apex_not_covered', 'review', `the heart is cut at the apical end of the stack: ${endSlice(coverage.apexAt)} still holds an LV section (cavity and myocardium) of ${fmt(coverage.apexEndAreaMm2 / 100)} cm², ${fmt(coverage.apexEndRatio * 100, 0)} % of the largest (${fmt(coverage.maxAreaMm2 / 100)} cm²; limit ${fmt(COVERAGE_LIMITS.apexEndRatio * 100, 0)} %)`);
      } else if (coverage.lengthToDiameter < COVERAGE_LIMITS.lengthToDiameter && coverage.baseEndRatio >= COVERAGE_LIMITS.baseEndRatio) {
        add('base_not_covered', 'review', `the heart looks cut at the basal end of the stack: the slices with LV span ${fmt(coverage.lengthMm, 0)} mm, ${fmt(coverage.lengthToDiameter, 2)} x the largest LV section's diameter (${fmt(coverage.diameterMm, 0)} mm; limit ${fmt(COVERAGE_LIMITS.lengthToDiameter, 2)}), and ${endSlice(baseEnd)} holds ${fmt(coverage.baseEndRatio * 100, 0)} % of the largest section`);
      }
    }
  }

  // 4d. Image noise against the blood pool at ED (Rician noise at 8 % of the 99th percentile costs
  // about 0.1 Dice and several points of EF while the other rules pass most of those studies).
  if (lv !== undefined && myo !== undefined) {
    const noise = imageNoiseStatistics(input.labelMaps, input.phases.ed, { lv, myo });
    if (noise.slices > 0 && Number.isFinite(noise.noiseRel)) {
      metrics.noise_rel = noise.noiseRel;
      if (noise.noiseRel > NOISE_REVIEW_ABOVE) add('noisy_images', 'review', `the images are noisy: noise about ${fmt(noise.noiseRel * 100)} % of the blood-pool signal at ED (above ${fmt(NOISE_REVIEW_ABOVE * 100)} %)`);
    }
  }

  // 4e. The same ventricle in every phase: a cavity labelled LV outside the ED ventricle is most
  // likely the RV under the LV's label (it yields an impossible EF only when it happens at ES).
  if (lv !== undefined && myo !== undefined) {
    const shares = lvInsideEdShares(input.labelMaps, input.phases.ed, lv, myo);
    let worst = -1;
    shares.forEach((v, p) => {
      if (v !== undefined && (worst < 0 || v < shares[worst]!)) worst = p;
    });
    if (worst >= 0) {
      const share = shares[worst]!;
      metrics.lv_in_ed_min = share;
      const severity = share < LV_IN_ED_LIMITS.fail ? 'fail' : share < LV_IN_ED_LIMITS.review ? 'review' : undefined;
      const phase = worst === input.phases.es ? 'end-systole' : `phase ${worst + 1} of ${shares.length}`;
      if (severity) add('lv_moved_between_phases', severity, `at ${phase} only ${fmt(share * 100, 0)} % of the LV cavity lies inside the end-diastolic LV (limit ${fmt(LV_IN_ED_LIMITS[severity] * 100, 0)} %): the ventricles may be mislabelled there`);
    }
  }

  // 5. One systole in the LV volume curve (only when the phases come from the curve).
  if (!input.phasesGiven && input.lvVolumeCurveMl.length >= 6) {
    const systoles = countSystoles(input.lvVolumeCurveMl);
    metrics.systoles = systoles;
    if (systoles > 1) add('volume_curve_not_one_systole', 'review', `the LV volume curve shows ${systoles} separate systoles, not one (phases out of order or mixed acquisitions?)`);
  }

  // 6. Model confidence: mean predictive entropy inside the structures.
  if (input.confidence) {
    let sum = 0;
    let count = 0;
    for (const row of input.confidence) for (const c of row) if (c) ((sum += c.meanEntropy * c.foregroundPixels), (count += c.foregroundPixels));
    const entropy = count > 0 ? sum / count : 0;
    metrics.entropy = entropy;
    const limit = input.reference?.thresholds.entropyReview;
    if (limit !== undefined && entropy > limit) add('low_confidence', 'review', `the model is unsure inside the structures (mean entropy ${fmt(entropy, 3)} above ${fmt(limit, 3)})`);
  }

  // 7. Out of distribution.
  let ood: number | null = null;
  if (input.reference && input.embeddings) {
    const t = input.reference.thresholds;
    const o = studyOod(input.embeddings, input.reference.embedding, t.imageDistance);
    ood = Math.round(o.score * 100) / 100;
    metrics.ood = o.score;
    metrics.outlier_fraction = o.outlierFraction;
    const calibrate = 'site calibration is suggested';
    if (o.score > t.studyScoreFail) add('out_of_distribution', 'fail', `the images are far from the training data (OOD score ${fmt(o.score)} above ${fmt(t.studyScoreFail)}); ${calibrate}`);
    else if (o.score > t.studyScoreReview) add('out_of_distribution', 'review', `the images differ from the training data (OOD score ${fmt(o.score)} above ${fmt(t.studyScoreReview)}); ${calibrate}`);
    if (o.outlierFraction > t.outlierFractionFail) add('outlier_images', 'fail', `${fmt(o.outlierFraction * 100, 0)} % of the images are unlike the training images (corrupt or foreign images?)`);
    else if (o.outlierFraction > t.outlierFractionReview) add('outlier_images', 'review', `${fmt(o.outlierFraction * 100, 0)} % of the images are unlike the training images`);
  }

  // 8. Agreement across test-time flips (only when they ran; never present otherwise).
  let uncertainty: StudyUncertainty | undefined;
  if (input.uncertainty) {
    const { images, channels, reviewAbove } = input.uncertainty;
    const transforms = images.flat().find((u) => u !== undefined)?.transforms;
    if (transforms !== undefined) {
      const disagreement = studyDisagreement(images, channels);
      uncertainty = { method: 'test-time-flips', transforms, disagreement: Object.fromEntries(Object.entries(disagreement).map(([k, v]) => [k, v === null ? null : Math.round(v * 1000) / 1000])) };
      for (const [key, v] of Object.entries(disagreement)) if (v !== null) metrics[`disagreement_${key}`] = v;
      // One reason naming every structure above its limit; review only (docs/quality-control.md gives its false alarms).
      const above = Object.entries(disagreement).filter((e): e is [string, number] => e[1] !== null && reviewAbove?.[e[0]] !== undefined && e[1] > reviewAbove[e[0]]!);
      if (above.length > 0) {
        const which = above.map(([key, v]) => `${key.toUpperCase()} ${fmt(v, 3)} above ${fmt(reviewAbove![key]!, 3)}`).join(', ');
        add('uncertain_segmentation', 'review', `the segmentation changes under test-time flips (disagreement ${which})`);
      }
    }
  }

  const ordered = [...reasons.filter((r) => r.severity === 'fail'), ...reasons.filter((r) => r.severity === 'review')];
  const status: QcStatus = ordered.some((r) => r.severity === 'fail') ? 'fail' : ordered.length > 0 ? 'review' : 'pass';
  return { status, reasons: ordered.map((r) => r.text), ood, ...(uncertainty ? { uncertainty } : {}), details: ordered, metrics };
}

/** The reasons as one number-free sentence part: 'a; b; c' (distinct summaries, most severe first). */
export function qcSummary(qc: Pick<QualityControlDetail, 'details'>): string {
  return [...new Set(qc.details.map((r) => r.summary))].join('; ');
}

/**
 * The narrative as quality control allows it. review: the findings stand, behind a caution. fail:
 * no findings at all; the text says the automated analysis failed quality control and why, and
 * that the segmentation is there only for a person to inspect.
 */
export function narrativeWithQuality(narrative: NarrativeText, qc: Pick<QualityControlDetail, 'status' | 'details'>): NarrativeText {
  if (qc.status === 'pass') return narrative;
  const why = qcSummary(qc);
  if (qc.status === 'review') {
    const findings = `Caution: automated quality control asks for review (${why}). ${narrative.findings}`;
    return { ...narrative, findings, text: `${findings}\n${narrative.impression}\n${narrative.disclaimer}` };
  }
  const findings = `The automated analysis failed quality control (${why}). No measurements or diagnosis are reported; the segmentation, if present, is for inspection only.`;
  const impression = 'No automated findings: quality control failed.';
  return { findings, impression, disclaimer: narrative.disclaimer, text: `${findings}\n${impression}\n${narrative.disclaimer}` };
}

/**
 * Per phase, the share of the LV cavity's pixels (all slices) inside the ED left ventricle: cavity
 * plus myocardium with its holes filled, per slice. undefined at ED and at phases without LV.
 */
export function lvInsideEdShares(labelMaps: ReadonlyArray<ReadonlyArray<LabelMap>>, ed: number, lv: number, myo: number): Array<number | undefined> {
  const phases = labelMaps[0]?.length ?? 0;
  const inside = new Array<number>(phases).fill(0);
  const total = new Array<number>(phases).fill(0);
  for (const row of labelMaps) {
    const edMap = row[ed];
    if (!edMap) continue;
    const { rows, columns } = edMap.image.plane;
    const region = Uint8Array.from(edMap.labels, (v) => (v === lv || v === myo ? 1 : 0));
    fillHoles(region, rows, columns);
    for (let p = 0; p < phases; p++) {
      const labels = row[p]?.labels;
      if (p === ed || !labels || labels.length !== region.length) continue;
      for (let i = 0; i < labels.length; i++) {
        if (labels[i] !== lv) continue;
        total[p]!++;
        inside[p]! += region[i]!;
      }
    }
  }
  return total.map((t, p) => (t > 0 ? inside[p]! / t : undefined));
}

/**
 * Image-quality statistics at `phase`, medians over the slices with an LV cavity: the blood pool's
 * coefficient of variation (inside the cavity eroded by one pixel), the noise level by Immerkær's
 * Laplacian-difference estimate (CVIU 1996;64:300) relative to the blood pool, and the blood-pool to
 * myocardium contrast in units of that noise.
 */
export function imageNoiseStatistics(labelMaps: ReadonlyArray<ReadonlyArray<LabelMap>>, phase: number, labelValues: Readonly<Record<string, number>>): { bloodCv: number; noiseRel: number; cnr: number; slices: number } {
  const lv = labelValues.lv;
  const myo = labelValues.myo;
  const cv: number[] = [];
  const rel: number[] = [];
  const cnr: number[] = [];
  for (const row of labelMaps) {
    const map = row[phase];
    if (!map || lv === undefined || myo === undefined) continue;
    const { rows, columns } = map.image.plane;
    const px = map.image.pixels;
    const labels = map.labels;
    let n = 0;
    let sum = 0;
    let sum2 = 0;
    let nm = 0;
    let summ = 0;
    for (let r = 1; r < rows - 1; r++) {
      for (let c = 1; c < columns - 1; c++) {
        const i = r * columns + c;
        if (labels[i] === myo) ((summ += px[i]!), nm++);
        if (labels[i] !== lv || labels[i - 1] !== lv || labels[i + 1] !== lv || labels[i - columns] !== lv || labels[i + columns] !== lv) continue;
        const v = px[i]!;
        n++;
        sum += v;
        sum2 += v * v;
      }
    }
    if (n < 20 || nm < 20) continue;
    const mean = sum / n;
    if (!(mean > 0)) continue;
    const sd = Math.sqrt(Math.max(0, sum2 / n - mean * mean));
    // Immerkær: sigma = sqrt(pi/2) / (6 (W-2)(H-2)) * sum |I * N|, N = [1 -2 1; -2 4 -2; 1 -2 1].
    let acc = 0;
    for (let r = 1; r < rows - 1; r++) {
      for (let c = 1; c < columns - 1; c++) {
        const i = r * columns + c;
        const v =
          px[i - columns - 1]! - 2 * px[i - columns]! + px[i - columns + 1]! - 2 * px[i - 1]! + 4 * px[i]! - 2 * px[i + 1]! + px[i + columns - 1]! - 2 * px[i + columns]! + px[i + columns + 1]!;
        acc += Math.abs(v);
      }
    }
    const sigma = (Math.sqrt(Math.PI / 2) * acc) / (6 * (rows - 2) * (columns - 2));
    cv.push(sd / mean);
    rel.push(sigma / mean);
    cnr.push(sigma > 0 ? (mean - summ / nm) / sigma : Number.POSITIVE_INFINITY);
  }
  return { bloodCv: median(cv), noiseRel: median(rel), cnr: median(cnr), slices: cv.length };
}

/** Median distance (mm) between neighbouring slice positions; NaN under two slices. */
export function sliceSpacing(positionsMm: readonly number[]): number {
  const gaps: number[] = [];
  for (let k = 1; k < positionsMm.length; k++) gaps.push(Math.abs(positionsMm[k]! - positionsMm[k - 1]!));
  return median(gaps);
}

/** How far the stack covers the ventricles, from the areas per slice at ED (stackCoverage). */
export interface StackCoverage {
  /** The end of the stack (in stack order) where the apex lies: the end whose third of the heart holds less ventricle area. */
  readonly apexAt: 'first' | 'last';
  /** LV section (cavity + myocardium) on the stack's apical and basal end slices over the largest one. */
  readonly apexEndRatio: number;
  readonly baseEndRatio: number;
  readonly apexEndAreaMm2: number;
  readonly maxAreaMm2: number;
  /** Slices with LV (from the first to the last holding at least `heartShare` of the largest section) x slice spacing. */
  readonly lengthMm: number;
  /** Diameter of a disc of the largest LV section's area. */
  readonly diameterMm: number;
  /** lengthMm / diameterMm (NaN without a slice spacing). */
  readonly lengthToDiameter: number;
}

/**
 * Coverage of the ventricles by the stack, from the areas (mm²) of each structure per slice at ED.
 * The apex is the end whose third of the heart's slices holds less LV and RV area (the ventricles
 * narrow towards the apex and the RV ends before the LV); undefined without an LV.
 */
export function stackCoverage(profile: Readonly<Record<string, readonly number[]>>, sliceSpacingMm: number): StackCoverage | undefined {
  const lv = profile.lv ?? [];
  const myo = profile.myo ?? [];
  const rv = profile.rv ?? [];
  const n = lv.length;
  const lvSection = lv.map((a, k) => a + (myo[k] ?? 0));
  const all = lvSection.map((a, k) => a + (rv[k] ?? 0));
  const max = Math.max(0, ...lvSection);
  if (n === 0 || !(max > 0)) return undefined;
  const heart = lvSection.flatMap((a, k) => (a >= COVERAGE_LIMITS.heartShare * max ? [k] : []));
  const first = heart[0]!;
  const last = heart[heart.length - 1]!;
  const third = Math.max(1, Math.round((last - first + 1) / 3));
  const sum = (from: number, to: number) => all.slice(from, to + 1).reduce((s, a) => s + a, 0);
  const baseFirst = sum(first, first + third - 1) >= sum(last - third + 1, last);
  const apexSlice = baseFirst ? n - 1 : 0;
  const baseSlice = baseFirst ? 0 : n - 1;
  const lengthMm = (last - first + 1) * sliceSpacingMm;
  const diameterMm = 2 * Math.sqrt(max / Math.PI);
  return {
    apexAt: baseFirst ? 'last' : 'first',
    apexEndRatio: lvSection[apexSlice]! / max,
    baseEndRatio: lvSection[baseSlice]! / max,
    apexEndAreaMm2: lvSection[apexSlice]!,
    maxAreaMm2: max,
    lengthMm,
    diameterMm,
    lengthToDiameter: lengthMm / diameterMm,
  };
}
