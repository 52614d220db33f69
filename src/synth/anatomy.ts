/**
 * The heart phantom: LV cavity, LV myocardium and RV cavity as star-shaped contours in each
 * short-axis plane, from base to apex, at any point of the cardiac cycle.
 *
 * Frame: z runs along the stack normal from the LV base plane at end-diastole (z = 0) towards the
 * apex; x, y are in-plane (mm, y pointing down the image). The LV is a truncated ellipsoid-like
 * shell (profile sqrt(1 - u^alpha)) with irregular endocardial borders (harmonics up to k = 10);
 * the RV is an ellipse wrapped around the septum minus the LV (a crescent). The LV cavity tip stays
 * fixed in space while the base descends in systole (long-axis shortening); radial motion is scaled
 * per segment (akinetic MINF territories do not move or thicken), and the wall cross-section grows
 * as the LV shortens (incompressible myocardium), which gives systolic wall thickening.
 * ACDC labelling convention: papillary muscles and trabeculae belong to the cavity label.
 */
import type { Physiology } from './physiology.js';
import type { Random } from './random.js';

export const ANGLE_BINS = 720;
const TWO_PI = 2 * Math.PI;

interface Harmonic {
  readonly k: number;
  readonly amp: number;
  readonly phase: number;
}

export interface HeartShape {
  /** LV cavity short-axis radius scale (mm) and length base -> cavity tip (mm) at ED. */
  Rc: number;
  Lc: number;
  alpha: number;
  /** Base wall thickness (mm), apical cap thickness (mm). */
  T0: number;
  Tapex: number;
  hypertrophy: { centre: number; halfWidth: number; peakMm: number } | null;
  infarct: Physiology['infarct'];
  endo: Harmonic[];
  epi: Harmonic[];
  /** In-plane drift of the LV centre per mm of z (the long axis is not exactly the stack normal). */
  tilt: [number, number];
  /** Radial shortening of normally moving segments at ES, long-axis shortening. */
  kLv: number;
  lambda: number;
  /** RV: direction (rad), inner edge of its ellipse as a fraction of the LV epicardial radius, free-wall reach W (mm). */
  rvAngle: number;
  rvDelta: number;
  W: number;
  omega: number;
  rvLengthFrac: number;
  rvBaseOffset: number;
  beta: number;
  kRv: number;
  lambdaRv: number;
  /** Image-only details: papillary muscle angles, trabeculation pattern. */
  papillary: [number, number];
  trabeculae: Harmonic[];
  rvWallMm: number;
  /** Per angle bin: 1 + endocardial and epicardial harmonics (fixed for the subject). */
  endoTable: Float64Array;
  epiTable: Float64Array;
}

function table(h: readonly Harmonic[]): Float64Array {
  const out = new Float64Array(ANGLE_BINS);
  for (let j = 0; j < ANGLE_BINS; j++) out[j] = 1 + sumHarmonics(h, binAngle(j));
  return out;
}

/** Centre angle of bin j, in [-pi, pi). */
export function binAngle(j: number): number {
  return -Math.PI + ((j + 0.5) * TWO_PI) / ANGLE_BINS;
}

/** Everything needed to classify the pixels of one plane at one phase. */
export interface Section {
  /** LV centre in plane coordinates (mm). */
  readonly cx: number;
  readonly cy: number;
  /** Per angle bin (angle = atan2(y - cy, x - cx)): cavity and epicardial radius (mm); 0 = absent. */
  readonly rc: Float64Array;
  readonly re: Float64Array;
  /** LV present at this level (cavity or apical cap); false above the base. */
  readonly lvPresent: boolean;
  /** The LV's mean cavity radius at this level (mm), used for image-only details. */
  readonly rcMean: number;
  readonly reMean: number;
  /** RV ellipse (centre, unit axis towards the free wall, semi-axes), or null when absent. */
  readonly rv: { readonly ex: number; readonly ey: number; readonly ux: number; readonly uy: number; readonly a: number; readonly b: number } | null;
  /** Above the LV base at this phase: the atrium/outflow blood pool seen there (image only). */
  readonly atrium: boolean;
  /** 0 base .. 1 cavity tip, the material level of the cavity at this plane (NaN when outside). */
  readonly level: number;
}

function harmonics(rng: Random, kFrom: number, kTo: number, amp0: number, decay: number): Harmonic[] {
  const out: Harmonic[] = [];
  for (let k = kFrom; k <= kTo; k++) out.push({ k, amp: amp0 * Math.pow(k / kFrom, -decay) * rng.uniform(0.4, 1.2), phase: rng.uniform(0, TWO_PI) });
  return out;
}

function sumHarmonics(h: readonly Harmonic[], theta: number): number {
  let s = 0;
  for (const { k, amp, phase } of h) s += amp * Math.cos(k * theta + phase);
  return s;
}

function angleDistance(a: number, b: number): number {
  let d = (a - b) % TWO_PI;
  if (d > Math.PI) d -= TWO_PI;
  if (d < -Math.PI) d += TWO_PI;
  return Math.abs(d);
}

/** Smooth bump: 1 inside |d| < halfWidth * 0.6, cosine fall-off to 0 at halfWidth * 1.2. */
function sectorBump(theta: number, centre: number, halfWidth: number): number {
  const d = angleDistance(theta, centre);
  const inner = halfWidth * 0.6;
  const outer = halfWidth * 1.2;
  if (d <= inner) return 1;
  if (d >= outer) return 0;
  return 0.5 * (1 + Math.cos((Math.PI * (d - inner)) / (outer - inner)));
}

/** Volume-preserving ED shape for a target LV cavity volume (ml) and the subject's physiology. */
export function drawHeartShape(rng: Random, phys: Physiology, bsa: number): HeartShape {
  const lvedv = phys.lvedvi * bsa;
  // Dilated ventricles are more spherical (lower length/radius ratio).
  const eta = phys.lvedvi > 105 ? rng.uniform(2.0, 2.6) : rng.uniform(2.7, 3.3);
  const alpha = rng.uniform(1.8, 2.6);
  const endo = [{ k: 2, amp: rng.uniform(0.02, 0.07), phase: rng.uniform(0, TWO_PI) }, ...harmonics(rng, 3, 10, rng.uniform(0.012, 0.025), 0.8)];
  const epi = [{ k: 2, amp: rng.uniform(0.01, 0.04), phase: rng.uniform(0, TWO_PI) }, ...harmonics(rng, 3, 5, 0.01, 1)];
  // Cavity volume of the profile: pi Rc^2 Lc * alpha/(alpha+1) * mean((1+h)^2) (exact for sqrt(1-u^alpha)).
  let meanSq = 0;
  for (let j = 0; j < 360; j++) meanSq += (1 + sumHarmonics(endo, (j * TWO_PI) / 360)) ** 2;
  meanSq /= 360;
  const shapeFactor = Math.PI * eta * (alpha / (alpha + 1)) * meanSq;
  const Rc = Math.cbrt((lvedv * 1000) / shapeFactor);
  const rvAngle = Math.PI + rng.gaussian(0, 0.15) - 0.2;
  return {
    Rc,
    Lc: Rc * eta,
    alpha,
    T0: 8,
    Tapex: rng.uniform(5, 9),
    hypertrophy: phys.hypertrophyPeakMm > 0
      ? { centre: rng.pick([Math.PI, (-3 * Math.PI) / 4, (3 * Math.PI) / 4]) + rng.gaussian(0, 0.2), halfWidth: rng.uniform(0.8, 1.6), peakMm: phys.hypertrophyPeakMm }
      : null,
    infarct: phys.infarct,
    endo,
    epi,
    tilt: [rng.gaussian(0, 0.08), rng.gaussian(0, 0.08)],
    kLv: 0.3,
    lambda: phys.longAxisShortening,
    rvAngle,
    rvDelta: rng.uniform(0.3, 0.6),
    W: 20,
    omega: rng.uniform(0.9, 1.08),
    rvLengthFrac: rng.uniform(0.72, 0.9),
    rvBaseOffset: rng.uniform(0, 8),
    beta: rng.uniform(1.5, 2.5),
    kRv: 0.3,
    lambdaRv: phys.longAxisShortening * rng.uniform(1.2, 1.6),
    papillary: [rvAngle + Math.PI - 0.8 + rng.gaussian(0, 0.15), rvAngle + Math.PI + 1.5 + rng.gaussian(0, 0.15)],
    trabeculae: harmonics(rng, 14, 26, 1, 0.3),
    rvWallMm: rng.uniform(2.5, 4),
    endoTable: table(endo),
    epiTable: table(epi),
  };
}

/** Wall thickness at ED (mm) at angle theta and cavity level u (0 base .. 1 tip). */
function wallThickness(shape: HeartShape, theta: number, u: number): number {
  let t = shape.T0;
  const h = shape.hypertrophy;
  if (h) {
    const along = u < 0.75 ? 1 : Math.max(0.4, 1 - (u - 0.75) * 2.4);
    t += Math.max(0, h.peakMm - shape.T0) * sectorBump(theta, h.centre, h.halfWidth) * along;
  }
  const inf = shape.infarct;
  if (inf && u >= inf.fromLevel - 0.1) t *= 1 - 0.35 * sectorBump(theta, inf.centre, inf.halfWidth) * Math.min(1, (u - inf.fromLevel + 0.1) / 0.2);
  return t;
}

/** Motion weight: 1 for normally contracting myocardium, 0 in the akinetic territory. */
function motionWeight(shape: HeartShape, theta: number, u: number): number {
  const inf = shape.infarct;
  if (!inf) return 1;
  const along = Math.min(1, Math.max(0, (u - inf.fromLevel + 0.1) / 0.2));
  // Remote myocardium is mildly hypokinetic too (0.85).
  return 0.85 * (1 - sectorBump(theta, inf.centre, inf.halfWidth) * along);
}

/** Filling fraction of the cycle: 1 at ED (t = 0), 0 at ES, then rapid filling, diastasis, atrial kick. */
export function filling(t: number, esFraction: number): number {
  const x = ((t % 1) + 1) % 1;
  if (x <= esFraction) return 0.5 * (1 + Math.cos((Math.PI * x) / esFraction));
  const rapidEnd = esFraction + 0.22;
  if (x <= rapidEnd) return 0.75 * 0.5 * (1 - Math.cos((Math.PI * (x - esFraction)) / 0.22));
  const kick = 0.86;
  if (x <= kick) return 0.75 + 0.07 * ((x - rapidEnd) / (kick - rapidEnd));
  return 0.82 + 0.18 * 0.5 * (1 - Math.cos((Math.PI * (x - kick)) / (1 - kick)));
}

/** The cross-section of the heart at plane z (mm) for filling fraction f (1 ED .. 0 ES). */
export function section(shape: HeartShape, z: number, f: number, zMid: number): Section {
  const s = 1 - f;
  const LcT = shape.Lc * (1 - shape.lambda * s);
  const zb = shape.Lc - LcT;
  const TapexT = shape.Tapex * (1 + 0.3 * s);
  const LeT = LcT + TapexT;
  const u = (z - zb) / LcT;
  const ue = (z - zb) / LeT;
  const gamma = shape.Lc / LcT - 1;
  const cx = shape.tilt[0] * (z - zMid);
  const cy = shape.tilt[1] * (z - zMid);
  const rc = new Float64Array(ANGLE_BINS);
  const re = new Float64Array(ANGLE_BINS);
  const lvPresent = ue >= 0 && ue < 1;
  const pc = u >= 0 && u < 1 ? Math.sqrt(1 - Math.pow(u, shape.alpha)) : 0;
  const pe = lvPresent ? Math.sqrt(1 - Math.pow(ue, shape.alpha)) : 0;
  const uClamped = Math.min(1, Math.max(0, u));
  let rcSum = 0;
  let reSum = 0;
  if (lvPresent) {
    for (let j = 0; j < ANGLE_BINS; j++) {
      const theta = binAngle(j);
      const m = motionWeight(shape, theta, uClamped);
      const rcEd = shape.Rc * pc * (shape.endoTable[j] as number);
      const T = wallThickness(shape, theta, uClamped);
      let reEd = (shape.Rc + T) * pe * (shape.epiTable[j] as number);
      reEd = Math.max(reEd, rcEd + 0.4 * T);
      const rcT = rcEd * (1 - shape.kLv * s * m);
      const reT = Math.sqrt(rcT * rcT + (reEd * reEd - rcEd * rcEd) * (1 + m * gamma + (1 - m) * 0));
      rc[j] = rcT;
      re[j] = reT;
      rcSum += rcT;
      reSum += reT;
    }
  }
  const rcMean = rcSum / ANGLE_BINS;
  const reMean = reSum / ANGLE_BINS;

  // RV: its apex stays put, its base descends more than the LV's (tricuspid annular excursion).
  const LrvEd = shape.Lc * shape.rvLengthFrac;
  const tipRv = -shape.rvBaseOffset + LrvEd;
  const LrvT = LrvEd * (1 - shape.lambdaRv * s);
  const ur = (z - (tipRv - LrvT)) / LrvT;
  let rv: Section['rv'] = null;
  if (ur >= 0 && ur < 1) {
    const sr = Math.sqrt(1 - Math.pow(ur, shape.beta));
    // Reference LV radius: the current epicardium, or the ED base size above the LV (outflow level).
    const reRef = lvPresent ? reMean : shape.Rc + shape.T0;
    const W = shape.W * (1 - shape.kRv * s);
    const omega = shape.omega * (1 - 0.35 * shape.kRv * s);
    const ux = Math.cos(shape.rvAngle);
    const uy = Math.sin(shape.rvAngle);
    // The crescent's inner edge lies inside the LV (behind the septum, hidden by it); its outer
    // edge W beyond the LV epicardium; it tapers (W and width) towards the RV apex.
    const inner = shape.rvDelta * reRef;
    const outer = reRef + W * sr;
    const D = (inner + outer) / 2;
    rv = { ex: cx + D * ux, ey: cy + D * uy, ux, uy, a: (outer - inner) / 2, b: omega * (reRef + 0.5 * W) * sr };
  }
  return { cx, cy, rc, re, lvPresent, rcMean, reMean, rv, atrium: u < 0 && z > -40, level: u >= 0 && u < 1 ? u : Number.NaN };
}

/** Angle bin of a direction (atan2 result in [-pi, pi]). */
export function angleBin(theta: number): number {
  const j = Math.floor(((theta + Math.PI) / TWO_PI) * ANGLE_BINS);
  return j >= ANGLE_BINS ? ANGLE_BINS - 1 : j < 0 ? 0 : j;
}

/** Exact areas (mm²) of the three structures in a section, by polar integration about the LV centre. */
export function sectionAreas(sec: Section): { lv: number; myo: number; rv: number } {
  const dTheta = TWO_PI / ANGLE_BINS;
  let lv = 0;
  let epi = 0;
  let rv = 0;
  for (let j = 0; j < ANGLE_BINS; j++) {
    const rcj = sec.rc[j] as number;
    const rej = sec.re[j] as number;
    lv += rcj * rcj;
    epi += rej * rej;
    if (sec.rv) {
      const theta = -Math.PI + ((j + 0.5) * TWO_PI) / ANGLE_BINS;
      const vx = Math.cos(theta);
      const vy = Math.sin(theta);
      const { ux, uy, a, b } = sec.rv;
      const ox = sec.cx - sec.rv.ex;
      const oy = sec.cy - sec.rv.ey;
      // Ray from the LV centre in ellipse axes: q(t) = o + t v.
      const va = vx * ux + vy * uy;
      const vb = -vx * uy + vy * ux;
      const oa = ox * ux + oy * uy;
      const ob = -ox * uy + oy * ux;
      const A = (va * va) / (a * a) + (vb * vb) / (b * b);
      const B = 2 * ((oa * va) / (a * a) + (ob * vb) / (b * b));
      const C = (oa * oa) / (a * a) + (ob * ob) / (b * b) - 1;
      const disc = B * B - 4 * A * C;
      if (disc > 0) {
        const sq = Math.sqrt(disc);
        const t1 = (-B - sq) / (2 * A);
        const t2 = (-B + sq) / (2 * A);
        const from = Math.max(t1, rej, 0);
        if (t2 > from) rv += t2 * t2 - from * from;
      }
    }
  }
  return { lv: 0.5 * lv * dTheta, myo: 0.5 * (epi - lv) * dTheta, rv: 0.5 * rv * dTheta };
}

/** Continuous volumes (ml) sampled at the slice planes, each slab as thick as the slice spacing. */
export function sampledVolumes(shape: HeartShape, planesZ: readonly number[], spacing: number, f: number, zMid: number): { lv: number; myo: number; rv: number } {
  let lv = 0;
  let myo = 0;
  let rv = 0;
  for (const z of planesZ) {
    const a = sectionAreas(section(shape, z, f, zMid));
    lv += a.lv;
    myo += a.myo;
    rv += a.rv;
  }
  return { lv: (lv * spacing) / 1000, myo: (myo * spacing) / 1000, rv: (rv * spacing) / 1000 };
}

/** Bisection for a monotone function: the x in [lo, hi] where fn(x) crosses target. */
export function solveMonotone(fn: (x: number) => number, target: number, lo: number, hi: number, iterations = 22): number {
  let a = lo;
  let b = hi;
  const increasing = fn(hi) > fn(lo);
  for (let i = 0; i < iterations; i++) {
    const mid = 0.5 * (a + b);
    const v = fn(mid);
    if ((v < target) === increasing) a = mid;
    else b = mid;
  }
  return 0.5 * (a + b);
}

/**
 * Tunes size (LVEDV), wall thickness (LV mass), radial shortening (LVESV), RV reach (RVEDV) and RV shortening
 * (RVESV) so the volumes sampled at the actual slice planes meet the physiology targets.
 */
export function calibrateShape(shape: HeartShape, phys: Physiology, bsa: number, planesZ: readonly number[], spacing: number, zMid: number): void {
  // Size (radius and length together) for the EDV as the slices sample it.
  const eta = shape.Lc / shape.Rc;
  const R0 = shape.Rc;
  shape.Rc = solveMonotone((R) => { shape.Rc = R; shape.Lc = R * eta; return sampledVolumes(shape, planesZ, spacing, 1, zMid).lv; }, phys.lvedvi * bsa, R0 * 0.8, R0 * 1.25);
  shape.Lc = shape.Rc * eta;
  const myoTarget = (phys.lvMassI * bsa) / 1.05;
  shape.T0 = solveMonotone((T0) => { shape.T0 = T0; return sampledVolumes(shape, planesZ, spacing, 1, zMid).myo; }, myoTarget, 4.5, 16);
  const edv = sampledVolumes(shape, planesZ, spacing, 1, zMid).lv;
  const esvTarget = edv * (1 - phys.lvef / 100);
  shape.kLv = solveMonotone((k) => { shape.kLv = k; return sampledVolumes(shape, planesZ, spacing, 0, zMid).lv; }, esvTarget, 0, 0.75);
  const rvedvTarget = phys.rvedvi * bsa;
  shape.W = solveMonotone((W) => { shape.W = W; return sampledVolumes(shape, planesZ, spacing, 1, zMid).rv; }, rvedvTarget, 2, 110);
  const rvedv = sampledVolumes(shape, planesZ, spacing, 1, zMid).rv;
  const rvesvTarget = rvedv * (1 - phys.rvef / 100);
  shape.kRv = solveMonotone((k) => { shape.kRv = k; return sampledVolumes(shape, planesZ, spacing, 0, zMid).rv; }, rvesvTarget, 0, 0.95);
}
