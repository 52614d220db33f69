/**
 * Study-level features for the diagnosis head: EXACTLY the vocabulary and formulas of
 * docs/study-features.md (the Python training code implements the same; test/features-parity checks).
 * Values are computed unrounded in float64 and only then stored as float32, the head's input type.
 */
import type { Manifest } from '../model/manifest.js';
import type { LabelMap } from '../study/types.js';
import { bsaMosteller, ejectionFractionPct, myocardialMassG, volumeMl } from './conventions.js';
import type { AreaTable } from './areas.js';
import type { SegmentLabels } from './segments.js';

export interface FeatureInput {
  /** Areas per key, slice, phase (mm²), as measureStudy returns them. */
  readonly areasMm2: AreaTable;
  /** Slab thickness per slice (mm). */
  readonly slabsMm: readonly number[];
  readonly labels: SegmentLabels;
  readonly phases: { readonly ed: number; readonly es: number };
  /** labelMaps[slice][phase]; only ED and ES are read (sector thickness). */
  readonly labelMaps: ReadonlyArray<ReadonlyArray<LabelMap>>;
  /** Height (m) and weight (kg) when known; else the head's defaultBsaM2 is used. */
  readonly patientSizeM?: number;
  readonly patientWeightKg?: number;
  /** embeddings[slice][phase]; needed only for embedding_* features, and then only at ED and ES. */
  readonly embeddings?: ReadonlyArray<ReadonlyArray<Float32Array | undefined>>;
}

export interface StudyFeatureVector {
  readonly names: readonly string[];
  readonly raw: Float32Array;
  readonly standardised: Float32Array;
}

const SECTORS = 6;
const SECTOR_ANGLE = Math.PI / 3;

/** Thickness of an annulus with inner area A_lv and wall area A_myo (mm): sqrt((A_lv+A_myo)/π) − sqrt(A_lv/π). */
export function annulusThicknessMm(lvAreaMm2: number, myoAreaMm2: number): number {
  return Math.sqrt((lvAreaMm2 + myoAreaMm2) / Math.PI) - Math.sqrt(lvAreaMm2 / Math.PI);
}

/** Thickness of a sector (angle π/3) with inner area A_lv_j and wall area A_myo_j (mm). */
export function sectorThicknessMm(lvAreaMm2: number, myoAreaMm2: number): number {
  return Math.sqrt((2 * (lvAreaMm2 + myoAreaMm2)) / SECTOR_ANGLE) - Math.sqrt((2 * lvAreaMm2) / SECTOR_ANGLE);
}

/**
 * Per-sector LV and myocardium areas (mm²) of one label map, or undefined when the slice has no LV
 * cavity. Sector of pixel (r, k): min(5, floor((atan2((r − c_r)·rowSpacing, (k − c_c)·colSpacing) + π) / (π/3))),
 * c = centroid of the LV-cavity pixels.
 */
export function sectorAreas(map: LabelMap, lvLabel: number, myoLabel: number): { lv: number[]; myo: number[] } | undefined {
  const { rows, columns, pixelSpacing } = map.image.plane;
  const [rowSpacing, columnSpacing] = pixelSpacing;
  const labels = map.labels;
  let n = 0;
  let sumR = 0;
  let sumC = 0;
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < columns; k++) {
      if (labels[r * columns + k] === lvLabel) {
        n++;
        sumR += r;
        sumC += k;
      }
    }
  }
  if (n === 0) return undefined;
  const cr = sumR / n;
  const cc = sumC / n;
  const lv = new Array<number>(SECTORS).fill(0);
  const myo = new Array<number>(SECTORS).fill(0);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < columns; k++) {
      const label = labels[r * columns + k];
      if (label !== lvLabel && label !== myoLabel) continue;
      const angle = Math.atan2((r - cr) * rowSpacing, (k - cc) * columnSpacing);
      const j = Math.min(SECTORS - 1, Math.floor((angle + Math.PI) / SECTOR_ANGLE));
      if (label === lvLabel) lv[j]!++;
      else myo[j]!++;
    }
  }
  const area = rowSpacing * columnSpacing;
  return { lv: lv.map((c) => c * area), myo: myo.map((c) => c * area) };
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
}

/** Population standard deviation; 0 for no values. */
function populationStd(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const m = mean(values);
  return Math.sqrt(values.reduce((a, v) => a + (v - m) ** 2, 0) / values.length);
}

/** Coefficient of variation with the population std; 0 for no values or a zero mean. */
function coefficientOfVariation(values: readonly number[]): number {
  const m = mean(values);
  if (values.length === 0 || m === 0) return 0;
  return populationStd(values) / m;
}

/** Computes the named scalar/vector features on demand, caching what several features share. */
class FeatureCalculator {
  private readonly cache = new Map<string, number | number[]>();
  constructor(
    private readonly input: FeatureInput,
    private readonly defaultBsaM2: number,
  ) {}

  private memo<T extends number | number[]>(key: string, compute: () => T): T {
    if (!this.cache.has(key)) this.cache.set(key, compute());
    return this.cache.get(key) as T;
  }

  private volume(key: 'lv' | 'myo' | 'rv', phase: 'ed' | 'es'): number {
    return this.memo(`V_${key}_${phase}`, () => {
      const t = this.input.phases[phase];
      return volumeMl(this.input.areasMm2[key]!.map((row) => row[t]!), this.input.slabsMm);
    });
  }

  private bsa(): number {
    const { patientSizeM, patientWeightKg } = this.input;
    return patientSizeM !== undefined && patientWeightKg !== undefined && patientSizeM > 0 && patientWeightKg > 0
      ? bsaMosteller(patientSizeM, patientWeightKg)
      : this.defaultBsaM2;
  }

  private thicknesses(phase: 'ed' | 'es'): number[] {
    return this.memo(`th_${phase}`, () => {
      const t = this.input.phases[phase];
      const out: number[] = [];
      const lv = this.input.areasMm2.lv!;
      const myo = this.input.areasMm2.myo!;
      for (let s = 0; s < lv.length; s++) {
        const aLv = lv[s]![t]!;
        const aMyo = myo[s]![t]!;
        if (aLv > 0 && aMyo > 0) out.push(annulusThicknessMm(aLv, aMyo));
      }
      return out;
    });
  }

  /** Sector thickness per (slice, sector) at a phase; NaN where the pair is not present. */
  private sectorThicknesses(phase: 'ed' | 'es'): number[] {
    return this.memo(`sth_${phase}`, () => {
      const t = this.input.phases[phase];
      const { lv: lvLabel, myo: myoLabel } = this.input.labels;
      const out: number[] = [];
      for (const row of this.input.labelMaps) {
        const sectors = sectorAreas(row[t]!, lvLabel, myoLabel);
        for (let j = 0; j < SECTORS; j++) {
          const aLv = sectors?.lv[j] ?? 0;
          const aMyo = sectors?.myo[j] ?? 0;
          out.push(aLv > 0 && aMyo > 0 ? sectorThicknessMm(aLv, aMyo) : Number.NaN);
        }
      }
      return out;
    });
  }

  private sectorThickening(): number[] {
    return this.memo('sthickening', () => {
      const ed = this.sectorThicknesses('ed');
      const es = this.sectorThicknesses('es');
      const out: number[] = [];
      for (let i = 0; i < ed.length; i++) {
        if (!Number.isNaN(ed[i]!) && !Number.isNaN(es[i]!)) out.push(((es[i]! - ed[i]!) / ed[i]!) * 100);
      }
      return out;
    });
  }

  private embeddingMean(phase: 'ed' | 'es', size: number): number[] {
    const { embeddings } = this.input;
    const t = this.input.phases[phase];
    if (!embeddings) throw new Error(`study feature 'embedding_${phase}_mean' needs the model's embeddings, and none were given`);
    const sum = new Float64Array(size);
    embeddings.forEach((row, s) => {
      const e = row[t];
      if (!e) throw new Error(`study feature 'embedding_${phase}_mean': no embedding for slice ${s} at phase ${t}`);
      if (e.length !== size) throw new Error(`study feature 'embedding_${phase}_mean': embedding has ${e.length} values, the manifest says ${size}`);
      for (let i = 0; i < size; i++) sum[i]! += e[i]!;
    });
    return Array.from(sum, (v) => v / embeddings.length);
  }

  value(name: string, size: number): number[] {
    const scalar = (v: number): number[] => {
      if (size !== 1) throw new Error(`study feature '${name}' is a scalar, the manifest gives it size ${size}`);
      return [v];
    };
    const lvedv = () => this.volume('lv', 'ed');
    const lvesv = () => this.volume('lv', 'es');
    const rvedv = () => this.volume('rv', 'ed');
    const rvesv = () => this.volume('rv', 'es');
    const mass = () => myocardialMassG(this.volume('myo', 'ed'));
    switch (name) {
      case 'lvedv_ml': return scalar(lvedv());
      case 'lvesv_ml': return scalar(lvesv());
      case 'rvedv_ml': return scalar(rvedv());
      case 'rvesv_ml': return scalar(rvesv());
      case 'lvef_pct': return scalar(ejectionFractionPct(lvedv(), lvesv()));
      case 'rvef_pct': return scalar(ejectionFractionPct(rvedv(), rvesv()));
      case 'lv_mass_g': return scalar(mass());
      case 'myo_es_ml': return scalar(this.volume('myo', 'es'));
      case 'lvedvi': return scalar(lvedv() / this.bsa());
      case 'lvesvi': return scalar(lvesv() / this.bsa());
      case 'rvedvi': return scalar(rvedv() / this.bsa());
      case 'rvesvi': return scalar(rvesv() / this.bsa());
      case 'lv_mass_i': return scalar(mass() / this.bsa());
      case 'rv_lv_edv_ratio': return scalar(lvedv() === 0 ? 0 : rvedv() / lvedv());
      case 'mass_edv_ratio': return scalar(lvedv() === 0 ? 0 : mass() / lvedv());
      case 'myo_thickness_ed_mean_mm': return scalar(mean(this.thicknesses('ed')));
      case 'myo_thickness_es_mean_mm': return scalar(mean(this.thicknesses('es')));
      case 'myo_thickness_ed_max_mm': return scalar(Math.max(0, ...this.thicknesses('ed')));
      case 'myo_thickness_es_max_mm': return scalar(Math.max(0, ...this.thicknesses('es')));
      case 'myo_thickening_pct': {
        const ed = mean(this.thicknesses('ed'));
        return scalar(ed === 0 ? 0 : ((mean(this.thicknesses('es')) - ed) / ed) * 100);
      }
      case 'sector_thickness_ed_cv': return scalar(coefficientOfVariation(this.sectorThicknesses('ed').filter((v) => !Number.isNaN(v))));
      // Regional heterogeneity at end-systole: healthy segments thicken, infarcted ones do not (MINF vs DCM).
      case 'sector_thickness_es_cv': return scalar(coefficientOfVariation(this.sectorThicknesses('es').filter((v) => !Number.isNaN(v))));
      case 'sector_thickening_min_pct': {
        const values = this.sectorThickening();
        return scalar(values.length === 0 ? 0 : Math.min(...values));
      }
      case 'sector_thickening_cv': return scalar(coefficientOfVariation(this.sectorThickening()));
      case 'sector_thickening_std_pct': return scalar(populationStd(this.sectorThickening()));
      case 'embedding_ed_mean': return this.embeddingMean('ed', size);
      case 'embedding_es_mean': return this.embeddingMean('es', size);
      default:
        throw new Error(`study feature '${name}' (model manifest diagnosis.studyHead.features) is not in the vocabulary of docs/study-features.md`);
    }
  }
}

/**
 * The head's feature vector in manifest order, raw and standardised ((x − mean) / std; a std of 0
 * leaves the centred value unscaled, so a constant training feature cannot divide by zero).
 */
export function computeStudyFeatures(input: FeatureInput, head: Manifest['diagnosis']['studyHead']): StudyFeatureVector {
  const calculator = new FeatureCalculator(input, head.defaultBsaM2);
  const names: string[] = [];
  const values: number[] = [];
  for (const feature of head.features) {
    const size = feature.size ?? 1;
    const v = calculator.value(feature.name, size);
    values.push(...v);
    names.push(...(size === 1 ? [feature.name] : v.map((_, i) => `${feature.name}[${i}]`)));
  }
  if (head.mean.length !== values.length || head.std.length !== values.length) {
    throw new Error(`study head: mean/std have ${head.mean.length}/${head.std.length} values for ${values.length} feature values`);
  }
  const raw = Float32Array.from(values);
  const standardised = Float32Array.from(values, (v, i) => {
    const std = head.std[i]!;
    return (v - head.mean[i]!) / (std > 0 ? std : 1);
  });
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) throw new Error(`study feature '${names[i]}' is not finite (${values[i]})`);
  }
  return { names, raw, standardised };
}
