/**
 * Volumes per phase for every segment, ED/ES, and the result's `measurements` object
 * (conventions.ts holds every formula; this module only applies them).
 */
import type { Manifest } from '../model/manifest.js';
import type { CineGrid, LabelMap, StudyContext } from '../study/types.js';
import { BadInputError } from '../core/errors.js';
import { checkLabelMaps, segmentAreas, type AreaTable } from './areas.js';
import {
  bsaMosteller,
  cyclicPhaseDistance,
  edEsFromCurve,
  edTimingTolerancePhases,
  ejectionFractionPct,
  myocardialMassG,
  roundMeasurement,
  slabThicknessesMm,
  volumeMl,
} from './conventions.js';
import { segmentLabels, type SegmentLabels } from './segments.js';
import { maximalWallThickness, type WallThicknessResult } from './wall-thickness.js';
import type { CoreMeasurements } from '../core/result.js';

export interface StudyMeasurement {
  readonly phases: { readonly ed: number; readonly es: number };
  /** Volume curve (ml, unrounded) per segment key. */
  readonly volumesMl: Readonly<Record<string, readonly number[]>>;
  /** result.json's measurements, rounded (conventions.ts). */
  readonly measurements: Record<string, number> & CoreMeasurements;
  /** The same keys, unrounded. */
  readonly exact: Readonly<Record<string, number>>;
  /** Slab thickness per slice (mm). */
  readonly slabsMm: readonly number[];
  /** Areas per key, slice, phase (mm²); study features reuse them. */
  readonly areasMm2: AreaTable;
  readonly labels: SegmentLabels;
  /** BSA from PatientSize and PatientWeight, when both are known. */
  readonly bsaM2?: number;
  /** Maximal ED wall thickness and its AHA segment (wall-thickness.ts), when the LV wall was found. */
  readonly wallThickness?: WallThicknessResult;
  readonly notes: readonly string[];
}


export interface MeasureInput {
  readonly grid: CineGrid;
  /** labelMaps[slice][phase], on each image's own grid. */
  readonly labelMaps: ReadonlyArray<ReadonlyArray<LabelMap>>;
  readonly manifest: Pick<Manifest, 'name' | 'segments'>;
  /** Height/weight for indexed values; the study UID (when given) names the study in errors. */
  readonly context: Pick<StudyContext, 'patientSizeM' | 'patientWeightKg'> & Partial<Pick<StudyContext, 'studyInstanceUID'>>;
  /** ED/ES known from elsewhere (ACDC's labelled frames); @defaultValue from the LV volume curve */
  readonly knownPhases?: { readonly ed: number; readonly es: number };
}

/** Measures a study from its label maps. Throws (naming what is wrong) on inconsistent input. */
export function measureStudy(input: MeasureInput): StudyMeasurement {
  const { grid, labelMaps, manifest, context } = input;
  const labels = segmentLabels(manifest);
  checkLabelMaps(grid, labelMaps);
  const notes: string[] = [];

  let slabsMm: number[];
  try {
    slabsMm = slabThicknessesMm(grid.slicePositionsMm, grid.images[0]?.[0]?.plane.sliceThickness);
  } catch (error) {
    // Stacked positions or a lone slice without SliceThickness: the study itself cannot be measured.
    throw new BadInputError((error as Error).message, context.studyInstanceUID);
  }
  if (grid.slices === 1) notes.push('single-slice stack: the slab is SliceThickness; volumes are not whole-ventricle volumes');
  const areasMm2 = segmentAreas(labelMaps, labels.byKey);
  const volumesMl: Record<string, number[]> = {};
  for (const key of Object.keys(labels.byKey)) {
    const perSlice = areasMm2[key]!;
    volumesMl[key] = Array.from({ length: grid.phases }, (_, t) => volumeMl(perSlice.map((row) => row[t]!), slabsMm));
  }

  const lv = volumesMl.lv!;
  let phases: { ed: number; es: number };
  if (input.knownPhases) {
    const { ed, es } = input.knownPhases;
    for (const [name, t] of [['ED', ed], ['ES', es]] as const) {
      if (!Number.isInteger(t) || t < 0 || t >= grid.phases) throw new Error(`analysis: known ${name} phase ${t} is outside the grid's ${grid.phases} phases`);
    }
    phases = { ed, es };
  } else {
    phases = edEsFromCurve(lv);
    if (grid.phases > 2) {
      const distance = cyclicPhaseDistance(phases.ed, 0, grid.phases);
      if (distance > edTimingTolerancePhases(grid.phases)) {
        const time = grid.phaseTimesMs[phases.ed];
        notes.push(
          `volume-curve ED is phase ${phases.ed}${time !== undefined ? ` (trigger time ${time} ms)` : ''}, ` +
            `${distance} phases from the first phase, where ECG-triggered cine expects end-diastole`,
        );
      }
    }
  }
  if (lv[phases.ed] === 0) notes.push('no LV cavity segmented at ED: volumes and EF are 0');
  else if (phases.ed === phases.es || lv[phases.ed] === lv[phases.es]) notes.push('LV volume does not change over the cycle: EF is 0');

  const { ed, es } = phases;
  const exact: Record<string, number> = {
    lvedv_ml: lv[ed]!,
    lvesv_ml: lv[es]!,
    lvsv_ml: lv[ed]! - lv[es]!,
    lvef_pct: ejectionFractionPct(lv[ed]!, lv[es]!),
    lv_mass_g: myocardialMassG(volumesMl.myo![ed]!),
    // RV volumes at the LV-defined ED/ES phases (one ED and ES for the heart, as ACDC labels them).
    rvedv_ml: volumesMl.rv![ed]!,
    rvesv_ml: volumesMl.rv![es]!,
    rvef_pct: ejectionFractionPct(volumesMl.rv![ed]!, volumesMl.rv![es]!),
  };

  let bsaM2: number | undefined;
  if (context.patientSizeM !== undefined && context.patientWeightKg !== undefined && context.patientSizeM > 0 && context.patientWeightKg > 0) {
    bsaM2 = bsaMosteller(context.patientSizeM, context.patientWeightKg);
    Object.assign(exact, {
      lvedvi_ml_m2: exact.lvedv_ml! / bsaM2,
      lvesvi_ml_m2: exact.lvesv_ml! / bsaM2,
      lvsvi_ml_m2: exact.lvsv_ml! / bsaM2,
      lv_mass_i_g_m2: exact.lv_mass_g! / bsaM2,
      rvedvi_ml_m2: exact.rvedv_ml! / bsaM2,
      rvesvi_ml_m2: exact.rvesv_ml! / bsaM2,
      bsa_m2: bsaM2,
    });
  }
  const wallThickness = maximalWallThickness(
    labelMaps.map((row) => row[ed]!),
    labels,
  );
  if (wallThickness) exact.lv_max_wall_thickness_mm = wallThickness.maxMm;
  const measurements = Object.fromEntries(Object.entries(exact).map(([key, value]) => [key, roundMeasurement(key, value)])) as Record<string, number> &
    CoreMeasurements;
  return { phases, volumesMl, measurements, exact, slabsMm, areasMm2, labels, ...(bsaM2 !== undefined ? { bsaM2 } : {}), ...(wallThickness ? { wallThickness } : {}), notes };
}
