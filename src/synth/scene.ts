/**
 * Rasterises one plane at one phase: the truth label map (at pixel centres) and a tissue map the
 * appearance domains turn into intensities. The thorax around the heart (body wall with fat,
 * lungs, liver, stomach, descending aorta, spine, epicardial fat) is a set of ellipses in the
 * heart-plane frame, drifting slowly from base to apex.
 */
import { angleBin, type HeartShape, type Section } from './anatomy.js';
import type { Random } from './random.js';

export const Tissue = {
  Air: 0,
  Lung: 1,
  SubcutaneousFat: 2,
  Muscle: 3,
  SoftTissue: 4,
  Liver: 5,
  Bone: 6,
  Aorta: 7,
  Stomach: 8,
  EpicardialFat: 9,
  LvBlood: 10,
  RvBlood: 11,
  Myocardium: 12,
  Papillary: 13,
  AtrialBlood: 14,
  RvWall: 15,
} as const;
export const TISSUE_COUNT = 16;

export const Label = { Background: 0, RV: 1, MYO: 2, LV: 3 } as const;

interface Ellipse {
  cx: number;
  cy: number;
  a: number;
  b: number;
  rot: number;
  /** Drift of the centre per mm of z (heart frame). */
  dx: number;
  dy: number;
}

export interface Thorax {
  readonly body: Ellipse;
  readonly fatMm: number;
  readonly muscleMm: number;
  readonly lungs: readonly Ellipse[];
  readonly liver: Ellipse;
  readonly stomach: Ellipse | null;
  readonly aorta: Ellipse;
  readonly spine: Ellipse;
  /** Epicardial fat thickness pattern around the heart (mm): mean and harmonic amplitudes. */
  readonly epiFat: readonly { k: number; amp: number; phase: number }[];
  readonly epiFatMm: number;
  /** Mediastinal fat: soft tissue is fat where this sum of plane waves (kx, ky, phase) exceeds `fatLevel`. */
  readonly fatWaves: readonly { kx: number; ky: number; phase: number }[];
  readonly fatLevel: number;
  /** Pulmonary vessels: small bright discs inside the lungs (x, y, radius, drift per mm of z). */
  readonly vessels: readonly { x: number; y: number; r: number; dx: number; dy: number }[];
}

function ellipse(rng: Random, cx: number, cy: number, a: number, b: number, rot: number, jitter: number, drift: number): Ellipse {
  return {
    cx: cx + rng.gaussian(0, jitter),
    cy: cy + rng.gaussian(0, jitter),
    a: a * rng.uniform(0.85, 1.15),
    b: b * rng.uniform(0.85, 1.15),
    rot: rot + rng.gaussian(0, 0.12),
    dx: rng.gaussian(0, drift),
    dy: rng.gaussian(0, drift),
  };
}

/**
 * Lays out the thorax for a heart whose ED base epicardial radius is `heartRadius` (mm). Heart
 * frame: the RV lies towards -x, anterior is -y. As on real short-axis cine the heart sits just
 * behind the anterior chest wall (a few cm of mediastinal fat between), the lungs hug its lateral
 * and right sides, the liver lies below and to the right, the aorta and spine behind.
 */
export function drawThorax(rng: Random, heartRadius: number, rvReach = 30): Thorax {
  const r = heartRadius;
  const fatMm = rng.uniform(6, 20);
  const muscleMm = rng.uniform(6, 13);
  const bodyA = 170 * rng.uniform(0.88, 1.12);
  const bodyB = 118 * rng.uniform(0.88, 1.12);
  // Anterior inner chest wall this far in front of the heart's epicardium.
  const front = rng.uniform(10, 28);
  const bodyCy = -r - front - fatMm - muscleMm + bodyB;
  return {
    body: { cx: rng.gaussian(-10, 8), cy: bodyCy, a: bodyA, b: bodyB, rot: rng.gaussian(0, 0.1), dx: rng.gaussian(0, 0.05), dy: rng.gaussian(0, 0.05) },
    fatMm,
    muscleMm,
    lungs: [
      ellipse(rng, -r - rvReach - 70, 5, 62, 88, 0.35, 6, 0.15),
      ellipse(rng, r + 62, 5, 58, 92, -0.35, 6, 0.15),
      ellipse(rng, r * 0.6 + 18, -r - 16, 42, 18, 0.3, 5, 0.1),
    ],
    liver: { ...ellipse(rng, -60, r + 62, 95, 50, 0.25, 8, 0.1), dy: -rng.uniform(0.3, 0.6) },
    stomach: rng.chance(0.6) ? ellipse(rng, r + 40, r + 55, 32, 22, -0.3, 8, 0.1) : null,
    aorta: { ...ellipse(rng, r + 12, r + 30, 12, 12, 0, 4, 0.05), a: rng.uniform(10, 14), b: 0 },
    spine: ellipse(rng, r + 2, r + 68, 20, 17, 0, 5, 0.03),
    epiFat: [1, 2, 3].map((k) => ({ k, amp: rng.uniform(0.5, 2.5), phase: rng.uniform(0, 2 * Math.PI) })),
    epiFatMm: rng.uniform(2, 6),
    fatWaves: Array.from({ length: 6 }, () => {
      const angle = rng.uniform(0, 2 * Math.PI);
      const k = (2 * Math.PI) / rng.uniform(18, 50);
      return { kx: k * Math.cos(angle), ky: k * Math.sin(angle), phase: rng.uniform(0, 2 * Math.PI) };
    }),
    fatLevel: rng.uniform(0.2, 0.9),
    vessels: Array.from({ length: 40 }, () => ({
      x: rng.uniform(-180, 180),
      y: rng.uniform(-100, 90),
      r: rng.uniform(1.2, 3.2),
      dx: rng.gaussian(0, 0.4),
      dy: rng.gaussian(0, 0.4),
    })),
  };
}

/** An ellipse placed at plane z, ready for many point tests. */
class PlacedEllipse {
  private readonly ex: number;
  private readonly ey: number;
  private readonly c: number;
  private readonly s: number;
  constructor(e: Ellipse, z: number, private readonly a: number, private readonly b: number) {
    this.ex = e.cx + e.dx * z;
    this.ey = e.cy + e.dy * z;
    this.c = Math.cos(e.rot);
    this.s = Math.sin(e.rot);
  }
  static of(e: Ellipse, z: number, grow = 0): PlacedEllipse {
    return new PlacedEllipse(e, z, e.a + grow, (e.b || e.a) + grow);
  }
  contains(x: number, y: number): boolean {
    const px = (x - this.ex) * this.c + (y - this.ey) * this.s;
    const py = -(x - this.ex) * this.s + (y - this.ey) * this.c;
    return (px * px) / (this.a * this.a) + (py * py) / (this.b * this.b) < 1;
  }
}

/** Tissues of the thorax (everything but the heart) on one plane; the same for every phase. */
export function thoraxMap(t: Thorax, coords: { x: Float64Array; y: Float64Array }, z: number): Uint8Array {
  const body = PlacedEllipse.of(t.body, z);
  const underSkin = PlacedEllipse.of(t.body, z, -t.fatMm);
  const underMuscle = PlacedEllipse.of(t.body, z, -t.fatMm - t.muscleMm);
  const organs: Array<[PlacedEllipse, number]> = [
    [PlacedEllipse.of(t.aorta, z), Tissue.Aorta],
    [PlacedEllipse.of(t.spine, z), Tissue.Bone],
    ...(t.stomach ? [[PlacedEllipse.of(t.stomach, z), Tissue.Stomach] as [PlacedEllipse, number]] : []),
    [PlacedEllipse.of(t.liver, z), Tissue.Liver],
    ...t.lungs.map((l) => [PlacedEllipse.of(l, z), Tissue.Lung] as [PlacedEllipse, number]),
  ];
  const vessels = t.vessels.map((v) => ({ x: v.x + v.dx * z, y: v.y + v.dy * z, r2: v.r * v.r }));
  const out = new Uint8Array(coords.x.length);
  for (let i = 0; i < out.length; i++) {
    const x = coords.x[i] as number;
    const y = coords.y[i] as number;
    let tissue: number = Tissue.SoftTissue;
    if (!body.contains(x, y)) tissue = Tissue.Air;
    else if (!underSkin.contains(x, y)) tissue = Tissue.SubcutaneousFat;
    else if (!underMuscle.contains(x, y)) tissue = Tissue.Muscle;
    else {
      for (const [e, organ] of organs) {
        if (e.contains(x, y)) {
          tissue = organ;
          break;
        }
      }
      if (tissue === Tissue.SoftTissue) {
        // Mediastinal and pericardial fat lobules in the soft tissue (bright on SSFP).
        let w = 0;
        for (const f of t.fatWaves) w += Math.cos(f.kx * x + f.ky * y + f.phase + 0.02 * z);
        if (w > t.fatLevel) tissue = Tissue.SubcutaneousFat;
      }
      if (tissue === Tissue.Lung) {
        for (const v of vessels) if ((x - v.x) ** 2 + (y - v.y) ** 2 < v.r2) tissue = Tissue.Aorta;
      }
    }
    out[i] = tissue;
  }
  return out;
}

export interface PlaneGrid {
  readonly rows: number;
  readonly columns: number;
  /** [row spacing, column spacing] (mm). */
  readonly pixelSpacing: readonly [number, number];
  /** Image-plane offset (mm) of the heart-frame origin from the image centre, and the scene's in-plane rotation (rad). */
  readonly shift: readonly [number, number];
  readonly rotation: number;
}

/** Heart-plane coordinates of every pixel centre (x then y), shared by all images of a study. */
export function planeCoordinates(grid: PlaneGrid): { x: Float64Array; y: Float64Array } {
  const n = grid.rows * grid.columns;
  const x = new Float64Array(n);
  const y = new Float64Array(n);
  const [dr, dc] = grid.pixelSpacing;
  const c = Math.cos(grid.rotation);
  const s = Math.sin(grid.rotation);
  for (let r = 0; r < grid.rows; r++) {
    const Y = (r - (grid.rows - 1) / 2) * dr - grid.shift[1];
    for (let k = 0; k < grid.columns; k++) {
      const X = (k - (grid.columns - 1) / 2) * dc - grid.shift[0];
      const i = r * grid.columns + k;
      x[i] = c * X + s * Y;
      y[i] = -s * X + c * Y;
    }
  }
  return { x, y };
}

/**
 * Labels and tissues of one image over the plane's thorax `background`; `f` the filling fraction
 * (papillary muscles look relatively larger in systole).
 */
export function rasterise(
  shape: HeartShape,
  thorax: Thorax,
  sec: Section,
  coords: { x: Float64Array; y: Float64Array },
  background: Uint8Array,
  f: number,
): { labels: Uint8Array; tissues: Uint8Array } {
  const n = coords.x.length;
  const labels = new Uint8Array(n);
  const tissues = new Uint8Array(n);
  let reMax = 0;
  for (let j = 0; j < sec.re.length; j++) reMax = Math.max(reMax, sec.re[j] as number);
  const fatMax = thorax.epiFatMm + 8;
  const reach = reMax + fatMax;
  const rv = sec.rv;
  const wall = shape.rvWallMm;
  const rvOuterA = rv ? rv.a + wall : 0;
  const rvOuterB = rv ? rv.b + wall : 0;
  const rvFatA = rv ? rv.a + wall + thorax.epiFatMm : 0;
  const rvFatB = rv ? rv.b + wall + thorax.epiFatMm : 0;
  // Papillary muscles (image only, labelled cavity as in ACDC) between 15 % and 80 % of the cavity length.
  const level = sec.level;
  const pmVisible = sec.lvPresent && level > 0.15 && level < 0.8 && sec.rcMean > 6;
  const pm = pmVisible
    ? shape.papillary.map((angle) => {
      const rcAt = sec.rc[angleBin(angle)] as number;
      return { x: sec.cx + Math.cos(angle) * rcAt * 0.62, y: sec.cy + Math.sin(angle) * rcAt * 0.62, r: Math.min(0.28 * sec.rcMean, 0.11 * shape.Rc * (1 + 0.35 * (1 - f))) };
    })
    : [];
  // Above the mitral plane: the left atrium (behind, away from the RV) and the aortic root (towards
  // the RV), both with walls too thin to look like a ventricle's myocardium.
  const atriumR = sec.atrium ? shape.Rc * 0.8 : 0;
  const awayX = -Math.cos(shape.rvAngle);
  const awayY = -Math.sin(shape.rvAngle);
  const la = { x: sec.cx + 0.3 * shape.Rc * awayX + 0.25 * shape.Rc, y: sec.cy + 0.3 * shape.Rc * awayY + 0.3 * shape.Rc };
  const aoR = Math.min(16, 0.45 * shape.Rc + 2);
  const ao = { x: sec.cx - 0.55 * shape.Rc * awayX, y: sec.cy - 0.55 * shape.Rc * awayY - 0.35 * shape.Rc };
  for (let i = 0; i < n; i++) {
    const x = coords.x[i] as number;
    const y = coords.y[i] as number;
    const dx = x - sec.cx;
    const dy = y - sec.cy;
    const d2 = dx * dx + dy * dy;
    let label: number = Label.Background;
    let tissue = -1;
    let theta = 0;
    let rej = 0;
    if (sec.lvPresent && d2 < reach * reach) {
      theta = Math.atan2(dy, dx);
      const j = angleBin(theta);
      rej = sec.re[j] as number;
      const d = Math.sqrt(d2);
      if (d < rej) {
        const rcj = sec.rc[j] as number;
        if (d < rcj) {
          label = Label.LV;
          tissue = Tissue.LvBlood;
          // Trabeculae: myocardial strands along the endocardial border.
          if (d > rcj * 0.86 && rcj > 4) {
            let tr = 0;
            for (const h of shape.trabeculae) tr += h.amp * Math.cos(h.k * theta + h.phase);
            if (tr > 1.2 + (rcj - d) / (rcj * 0.14) * 1.5) tissue = Tissue.Papillary;
          }
          for (const p of pm) if ((x - p.x) ** 2 + (y - p.y) ** 2 < p.r * p.r) tissue = Tissue.Papillary;
        } else {
          label = Label.MYO;
          tissue = Tissue.Myocardium;
        }
      }
    }
    if (label === Label.Background && rv) {
      const ox = x - rv.ex;
      const oy = y - rv.ey;
      const pa = ox * rv.ux + oy * rv.uy;
      const pb = -ox * rv.uy + oy * rv.ux;
      const q = (pa * pa) / (rv.a * rv.a) + (pb * pb) / (rv.b * rv.b);
      if (q < 1) {
        label = Label.RV;
        tissue = Tissue.RvBlood;
      } else if ((pa * pa) / (rvOuterA * rvOuterA) + (pb * pb) / (rvOuterB * rvOuterB) < 1) {
        tissue = Tissue.RvWall;
      } else if ((pa * pa) / (rvFatA * rvFatA) + (pb * pb) / (rvFatB * rvFatB) < 1) {
        tissue = Tissue.EpicardialFat;
      }
    }
    if (tissue < 0 && sec.lvPresent && d2 < reach * reach) {
      let fat = thorax.epiFatMm;
      for (const h of thorax.epiFat) fat += h.amp * Math.cos(h.k * theta + h.phase);
      if (Math.sqrt(d2) < rej + Math.max(0.5, fat)) tissue = Tissue.EpicardialFat;
    }
    if (tissue < 0 && atriumR > 0) {
      const a2 = (x - ao.x) ** 2 + (y - ao.y) ** 2;
      const l2 = (x - la.x) ** 2 + (y - la.y) ** 2;
      if (a2 < aoR * aoR) tissue = a2 < (aoR - 1.5) ** 2 ? Tissue.AtrialBlood : Tissue.RvWall;
      else if (l2 < atriumR * atriumR) tissue = l2 < (atriumR - 1.5) ** 2 ? Tissue.AtrialBlood : Tissue.RvWall;
    }
    if (tissue < 0) tissue = background[i] as number;
    labels[i] = label;
    tissues[i] = tissue;
  }
  return { labels, tissues };
}
