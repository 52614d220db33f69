/**
 * Truth measurements from the label maps themselves, with the conventions of
 * docs/study-features.md: area x slab thickness (mean distance to the neighbouring slice centres),
 * ED = largest LV volume, ES = smallest, EF = (EDV - ESV)/EDV x 100, mass = ED myocardium x 1.05.
 */
import type { SynthMeasurements } from './types.js';

export interface LabelGrid {
  readonly slices: number;
  readonly phases: number;
  readonly rows: number;
  readonly columns: number;
  readonly pixelSpacing: readonly [number, number];
  readonly slicePositionsMm: readonly number[];
  /** labels[slice][phase]. */
  readonly labels: ReadonlyArray<ReadonlyArray<Uint8Array>>;
}

/** Slab thickness of each slice: mean distance to its neighbours' centres (one neighbour at the ends). */
export function slabThicknesses(positions: readonly number[], fallback: number): number[] {
  if (positions.length < 2) return positions.map(() => fallback);
  return positions.map((p, s) => {
    const gaps: number[] = [];
    if (s > 0) gaps.push(Math.abs(p - (positions[s - 1] as number)));
    if (s < positions.length - 1) gaps.push(Math.abs((positions[s + 1] as number) - p));
    return gaps.reduce((a, b) => a + b, 0) / gaps.length;
  });
}

function count(labels: Uint8Array, value: number): number {
  let n = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] === value) n++;
  return n;
}

export interface VolumeCurves {
  readonly lv: number[];
  readonly rv: number[];
  readonly myo: number[];
}

export function volumeCurves(grid: LabelGrid, fallbackSpacing: number): VolumeCurves {
  const pixelArea = grid.pixelSpacing[0] * grid.pixelSpacing[1];
  const d = slabThicknesses(grid.slicePositionsMm, fallbackSpacing);
  const lv = new Array<number>(grid.phases).fill(0);
  const rv = new Array<number>(grid.phases).fill(0);
  const myo = new Array<number>(grid.phases).fill(0);
  for (let s = 0; s < grid.slices; s++) {
    const slab = (d[s] as number) * pixelArea / 1000;
    for (let t = 0; t < grid.phases; t++) {
      const map = grid.labels[s]?.[t] as Uint8Array;
      rv[t] = (rv[t] as number) + count(map, 1) * slab;
      myo[t] = (myo[t] as number) + count(map, 2) * slab;
      lv[t] = (lv[t] as number) + count(map, 3) * slab;
    }
  }
  return { lv, rv, myo };
}

function argBy(values: readonly number[], better: (a: number, b: number) => boolean): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (better(values[i] as number, values[best] as number)) best = i;
  return best;
}

/**
 * Largest wall thickness at ED over (slice, sector) pairs, the per-sector definition of
 * docs/study-features.md: th_j = sqrt(2(A_lv_j + A_myo_j)/θ) - sqrt(2 A_lv_j/θ), θ = π/3.
 */
export function maxSectorThickness(grid: LabelGrid, phase: number): number {
  const [dr, dc] = grid.pixelSpacing;
  const theta = Math.PI / 3;
  let best = 0;
  for (let s = 0; s < grid.slices; s++) {
    const map = grid.labels[s]?.[phase] as Uint8Array;
    let sr = 0;
    let sc = 0;
    let n = 0;
    for (let r = 0; r < grid.rows; r++) for (let c = 0; c < grid.columns; c++) if (map[r * grid.columns + c] === 3) { sr += r; sc += c; n++; }
    if (n === 0) continue;
    const cr = sr / n;
    const cc = sc / n;
    const lv = new Float64Array(6);
    const myo = new Float64Array(6);
    for (let r = 0; r < grid.rows; r++) {
      for (let c = 0; c < grid.columns; c++) {
        const v = map[r * grid.columns + c];
        if (v !== 2 && v !== 3) continue;
        const j = Math.min(5, Math.floor((Math.atan2((r - cr) * dr, (c - cc) * dc) + Math.PI) / theta));
        if (v === 3) lv[j] = (lv[j] as number) + dr * dc;
        else myo[j] = (myo[j] as number) + dr * dc;
      }
    }
    for (let j = 0; j < 6; j++) {
      if ((lv[j] as number) <= 0 || (myo[j] as number) <= 0) continue;
      const th = Math.sqrt((2 * ((lv[j] as number) + (myo[j] as number))) / theta) - Math.sqrt((2 * (lv[j] as number)) / theta);
      best = Math.max(best, th);
    }
  }
  return best;
}

/** Full double precision: consumers recomputing from the same maps get the same numbers. */
const round = (v: number): number => v;

export function measure(grid: LabelGrid, curves: VolumeCurves, bsaM2: number): { ed: number; es: number; measurements: SynthMeasurements } {
  const ed = argBy(curves.lv, (a, b) => a > b);
  const es = argBy(curves.lv, (a, b) => a < b);
  const lvedv = curves.lv[ed] as number;
  const lvesv = curves.lv[es] as number;
  const rvedv = curves.rv[ed] as number;
  const rvesv = curves.rv[es] as number;
  const ef = (edv: number, esv: number): number => (edv > 0 ? ((edv - esv) / edv) * 100 : 0);
  const mass = (curves.myo[ed] as number) * 1.05;
  return {
    ed,
    es,
    measurements: {
      lvedv_ml: round(lvedv),
      lvesv_ml: round(lvesv),
      lvsv_ml: round(lvedv - lvesv),
      lvef_pct: round(ef(lvedv, lvesv)),
      lv_mass_g: round(mass),
      rvedv_ml: round(rvedv),
      rvesv_ml: round(rvesv),
      rvsv_ml: round(rvedv - rvesv),
      rvef_pct: round(ef(rvedv, rvesv)),
      myo_es_ml: round(curves.myo[es] as number),
      lvedvi_ml_m2: round(lvedv / bsaM2),
      lvesvi_ml_m2: round(lvesv / bsaM2),
      rvedvi_ml_m2: round(rvedv / bsaM2),
      rvesvi_ml_m2: round(rvesv / bsaM2),
      lv_mass_i_g_m2: round(mass / bsaM2),
      max_wall_thickness_ed_mm: round(maxSectorThickness(grid, ed)),
    },
  };
}
