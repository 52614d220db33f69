/**
 * Measurement conventions, in ONE place. Every number the analysis reports is derived with these
 * functions and rounded/formatted with `roundMeasurement`/`formatMeasurement`, so result.json, the SR
 * and the narrative agree to the digit.
 *
 * Sources:
 * - [SCMR-2020] Schulz-Menger J, Bluemke DA, Bremerich J, et al. Standardized image interpretation and
 *   post-processing in cardiovascular magnetic resonance - 2020 update. J Cardiovasc Magn Reson
 *   2020;22:19. doi:10.1186/s12968-020-00610-6. Short-axis volumes by disk summation (area of each
 *   slice x the slab it represents, so slice thickness AND inter-slice gap count); ED = phase of the
 *   largest LV volume, ES = phase of the smallest; myocardial mass = myocardial volume x 1.05 g/ml.
 * - [KB-2020] Kawel-Boehm N, Hetzel SJ, Ambale-Venkatesh B, et al. Reference ranges ("normal values")
 *   for cardiovascular magnetic resonance (CMR) in adults and children: 2020 update. J Cardiovasc Magn
 *   Reson 2020;22:87. doi:10.1186/s12968-020-00683-3. Volumes and mass indexed to body-surface area
 *   (ml/m², g/m²); myocardial density 1.05 g/ml.
 * - [Mosteller-1987] Mosteller RD. Simplified calculation of body-surface area. N Engl J Med
 *   1987;317(17):1098. BSA (m²) = sqrt(height_cm x weight_kg / 3600).
 * - Checked against secondary summaries that cite [SCMR-2020]/[KB-2020] (the primary texts were not
 *   fully retrievable here): Radiopaedia "End-diastolic volume" / "End-systolic volume" (disk
 *   summation "accounting for slice thickness and gap"; ED = images with the largest, ES = the
 *   smallest blood volume; papillary muscles counted in volume or mass, never both - ACDC labels put
 *   them in the cavity); University of Washington TCMRRC (LV mass = 1.05 x myocardial volume,
 *   EF = (EDV - ESV)/EDV x 100).
 * - docs/study-features.md: the same formulas, shared with the Python training code.
 */

/** Specific density of myocardium (g/ml) [SCMR-2020, KB-2020]. */
export const MYOCARDIAL_DENSITY_G_PER_ML = 1.05;

/**
 * Thickness of the slab each slice represents (mm): the mean distance from the slice centre to its
 * neighbours' centres along the stack normal; one neighbour at the ends. Using centre distances (not
 * SliceThickness) makes gaps between slices count [SCMR-2020]. A single slice has no neighbour: its
 * SliceThickness is the only slab it can represent, so it must be given.
 */
export function slabThicknessesMm(slicePositionsMm: readonly number[], singleSliceThicknessMm?: number): number[] {
  const n = slicePositionsMm.length;
  if (n === 0) throw new Error('slab thickness: the stack has no slices');
  if (n === 1) {
    if (singleSliceThicknessMm === undefined || !(singleSliceThicknessMm > 0)) {
      throw new Error('slab thickness: a single-slice stack needs SliceThickness');
    }
    return [singleSliceThicknessMm];
  }
  const gaps: number[] = [];
  for (let s = 1; s < n; s++) {
    const gap = Math.abs(slicePositionsMm[s]! - slicePositionsMm[s - 1]!);
    if (!(gap > 0)) throw new Error(`slab thickness: slices ${s - 1} and ${s} share a position along the stack normal`);
    gaps.push(gap);
  }
  return slicePositionsMm.map((_, s) => (s === 0 ? gaps[0]! : s === n - 1 ? gaps[n - 2]! : (gaps[s - 1]! + gaps[s]!) / 2));
}

/** Volume (ml) from per-slice areas (mm²) and slab thicknesses (mm): Σ A_s·d_s / 1000. */
export function volumeMl(areasMm2: readonly number[], slabsMm: readonly number[]): number {
  let sum = 0;
  for (let s = 0; s < areasMm2.length; s++) sum += areasMm2[s]! * slabsMm[s]!;
  return sum / 1000;
}

/** Ejection fraction (%) = (EDV - ESV) / EDV x 100; 0 when EDV is 0 (nothing segmented). */
export function ejectionFractionPct(edvMl: number, esvMl: number): number {
  return edvMl > 0 ? ((edvMl - esvMl) / edvMl) * 100 : 0;
}

/** Myocardial mass (g) from the ED myocardial volume (ml) [SCMR-2020]. */
export function myocardialMassG(myocardialVolumeMl: number): number {
  return myocardialVolumeMl * MYOCARDIAL_DENSITY_G_PER_ML;
}

/** Body-surface area (m²), Mosteller [Mosteller-1987]; height in metres as DICOM PatientSize holds it. */
export function bsaMosteller(heightM: number, weightKg: number): number {
  if (!(heightM > 0) || !(weightKg > 0)) throw new Error('BSA needs a positive PatientSize and PatientWeight');
  return Math.sqrt((heightM * 100 * weightKg) / 3600);
}

/**
 * ED = phase of the largest LV-cavity volume, ES = the smallest, over all phases [SCMR-2020]. Ties go
 * to the earliest phase so the choice is deterministic.
 */
export function edEsFromCurve(lvVolumesMl: readonly number[]): { ed: number; es: number } {
  if (lvVolumesMl.length === 0) throw new Error('ED/ES: the LV volume curve is empty');
  let ed = 0;
  let es = 0;
  for (let t = 1; t < lvVolumesMl.length; t++) {
    if (lvVolumesMl[t]! > lvVolumesMl[ed]!) ed = t;
    if (lvVolumesMl[t]! < lvVolumesMl[es]!) es = t;
  }
  return { ed, es };
}

/**
 * How far (in phases, cyclically) the volume-curve ED may sit from the first phase before we note it.
 * Cine acquisitions are ECG-triggered on the R wave, so the first phase (trigger time near 0) is
 * electrical end-diastole; a curve maximum far from it hints at a trigger or segmentation problem.
 * 10 % of the cycle, at least one phase.
 */
export function edTimingTolerancePhases(phases: number): number {
  return Math.max(1, Math.round(phases * 0.1));
}

/** Cyclic distance between two phase indices. */
export function cyclicPhaseDistance(a: number, b: number, phases: number): number {
  const d = Math.abs(a - b) % phases;
  return Math.min(d, phases - d);
}

// ---- rounding and units: result.json, the SR and the narrative all use these -----------------------

/** UCUM units of the result's measurement keys (the SR writer uses the same). */
export const MEASUREMENT_UNITS: Readonly<Record<string, string>> = {
  lvedv_ml: 'ml',
  lvesv_ml: 'ml',
  lvsv_ml: 'ml',
  lvef_pct: '%',
  lv_mass_g: 'g',
  rvedv_ml: 'ml',
  rvesv_ml: 'ml',
  rvef_pct: '%',
  lvedvi_ml_m2: 'ml/m2',
  lvesvi_ml_m2: 'ml/m2',
  lvsvi_ml_m2: 'ml/m2',
  lv_mass_i_g_m2: 'g/m2',
  rvedvi_ml_m2: 'ml/m2',
  rvesvi_ml_m2: 'ml/m2',
  bsa_m2: 'm2',
  lv_max_wall_thickness_mm: 'mm',
};

/** Decimals kept in result.json and printed in the SR and narrative: 1, but BSA keeps 2 (1.9 vs 1.94 matters). */
export function measurementDecimals(key: string): number {
  return key === 'bsa_m2' ? 2 : 1;
}

/** Diagnosis probabilities are kept with this many decimals. */
export const PROBABILITY_DECIMALS = 3;

/** Rounds half away from zero at `decimals` (sign kept, never -0). */
export function roundTo(value: number, decimals: number): number {
  if (!Number.isFinite(value)) throw new Error(`cannot round a non-finite value (${value})`);
  const scale = 10 ** decimals;
  const rounded = Math.round(Math.abs(value) * scale) / scale;
  return value < 0 && rounded !== 0 ? -rounded : rounded;
}

export function roundMeasurement(key: string, value: number): number {
  return roundTo(value, measurementDecimals(key));
}

/** The one way a measurement is written as text (fixed decimals: "62.0", "1.90"). */
export function formatMeasurement(key: string, value: number): string {
  return roundMeasurement(key, value).toFixed(measurementDecimals(key));
}
