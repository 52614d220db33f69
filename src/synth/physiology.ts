/**
 * Physiology targets per ACDC group (Bernard et al. 2018, IEEE TMI 37(11), section II-A):
 *  NOR  normal LVEF (> 50 %), normal volumes and wall;
 *  DCM  LVEDV index > 100 ml/m² and LVEF < 40 %;
 *  HCM  LV mass index > 110 g/m², several segments thicker than 15 mm in diastole, normal LVEF;
 *  MINF LVEF < 40 % with abnormal contraction (akinesia) of several myocardial segments;
 *  RV   RV volume index > 110 ml/m² or RVEF < 40 %, normal LV.
 * Each value is drawn from a continuous (truncated normal) distribution whose bounds sit at or just
 * inside those definitions, so neighbouring groups meet at their borders (a DCM with LVEF 38 % and a
 * MINF with LVEF 36 % and an EDV index of 105 ml/m² look alike, as they do in ACDC).
 */
import type { Random } from './random.js';
import type { SynthGroup } from './types.js';

export interface Demographics {
  readonly sex: 'F' | 'M';
  readonly ageYears: number;
  readonly sizeM: number;
  readonly weightKg: number;
  readonly bsaM2: number;
}

export interface Physiology {
  readonly lvedvi: number;
  readonly lvef: number;
  readonly rvedvi: number;
  readonly rvef: number;
  /** LV mass index target (g/m²). */
  readonly lvMassI: number;
  /** Long-axis shortening of the LV at ES (fraction of ED length). */
  readonly longAxisShortening: number;
  /** ES as a fraction of the RR interval. */
  readonly esFraction: number;
  readonly heartRateBpm: number;
  /** HCM: peak ED wall thickness in the hypertrophied segments (mm), else 0. */
  readonly hypertrophyPeakMm: number;
  /** MINF: centre angle (rad), half-width (rad) and apical extent (0 base..1 apex, from where) of the akinetic territory. */
  readonly infarct: { readonly centre: number; readonly halfWidth: number; readonly fromLevel: number } | null;
}

export function bsaMosteller(sizeM: number, weightKg: number): number {
  return Math.sqrt((sizeM * 100 * weightKg) / 3600);
}

export function drawDemographics(rng: Random): Demographics {
  const sex = rng.chance(0.55) ? 'M' : 'F';
  const sizeM = sex === 'M' ? rng.truncated(1.76, 0.07, 1.55, 1.98) : rng.truncated(1.63, 0.065, 1.45, 1.85);
  const bmi = rng.truncated(25.5, 3.8, 18.5, 38);
  const weightKg = Math.round(bmi * sizeM * sizeM);
  const size = Math.round(sizeM * 100) / 100;
  return { sex, ageYears: rng.int(18, 85), sizeM: size, weightKg, bsaM2: bsaMosteller(size, weightKg) };
}

export function drawPhysiology(group: SynthGroup, rng: Random): Physiology {
  const common = {
    heartRateBpm: rng.truncated(68, 10, 50, 95),
    esFraction: rng.truncated(0.36, 0.025, 0.3, 0.42),
  };
  switch (group) {
    case 'NOR':
      return {
        ...common,
        lvedvi: rng.truncated(70, 12, 50, 96),
        lvef: rng.truncated(61, 5, 52.5, 74),
        rvedvi: rng.truncated(78, 12, 54, 106),
        rvef: rng.truncated(56, 6, 45, 69),
        lvMassI: rng.truncated(56, 9, 40, 80),
        longAxisShortening: rng.truncated(0.14, 0.02, 0.1, 0.18),
        hypertrophyPeakMm: 0,
        infarct: null,
      };
    case 'DCM':
      return {
        ...common,
        esFraction: rng.truncated(0.4, 0.03, 0.33, 0.46),
        lvedvi: rng.truncated(150, 28, 106, 230),
        lvef: rng.truncated(21, 7, 8, 38),
        rvedvi: rng.truncated(92, 22, 55, 150),
        rvef: rng.truncated(36, 12, 12, 62),
        lvMassI: rng.truncated(94, 16, 68, 135),
        longAxisShortening: rng.truncated(0.06, 0.02, 0.02, 0.1),
        hypertrophyPeakMm: 0,
        infarct: null,
      };
    case 'HCM':
      return {
        ...common,
        lvedvi: rng.truncated(68, 13, 42, 98),
        lvef: rng.truncated(67, 7, 56, 82),
        rvedvi: rng.truncated(64, 12, 40, 90),
        rvef: rng.truncated(60, 8, 44, 78),
        lvMassI: rng.truncated(130, 16, 117, 185),
        longAxisShortening: rng.truncated(0.1, 0.02, 0.06, 0.14),
        hypertrophyPeakMm: rng.truncated(20, 3, 16.5, 28),
        infarct: null,
      };
    case 'MINF':
      return {
        ...common,
        lvedvi: rng.truncated(100, 20, 70, 160),
        lvef: rng.truncated(30, 6, 14, 38),
        rvedvi: rng.truncated(66, 13, 42, 95),
        rvef: rng.truncated(55, 8, 40, 70),
        lvMassI: rng.truncated(70, 10, 52, 95),
        longAxisShortening: rng.truncated(0.07, 0.02, 0.03, 0.11),
        hypertrophyPeakMm: 0,
        // Angles in the image plane (x right, y down = posterior, RV towards -x): anterior (-pi/2),
        // anteroseptal, septal (LAD territories, the most frequent) or inferior (RCA). It reaches the apex.
        infarct: {
          centre: rng.pick([-Math.PI / 2, (-3 * Math.PI) / 4, Math.PI, Math.PI / 2]) + rng.gaussian(0, 0.25),
          halfWidth: rng.uniform(0.55, 1.1),
          fromLevel: rng.uniform(0.0, 0.45),
        },
      };
    case 'RV':
      return {
        ...common,
        lvedvi: rng.truncated(63, 11, 44, 92),
        lvef: rng.truncated(59, 5, 52.5, 72),
        rvedvi: rng.truncated(134, 18, 116, 190),
        rvef: rng.truncated(33, 11, 10, 55),
        lvMassI: rng.truncated(47, 9, 32, 70),
        longAxisShortening: rng.truncated(0.12, 0.02, 0.08, 0.16),
        hypertrophyPeakMm: 0,
        infarct: null,
      };
  }
}
