/**
 * Appearance domains: tissue maps -> stored pixel values. The anatomy, the grid and the truth are
 * the same in every domain; only contrast, noise, artefacts, storage class and pixel format change.
 *
 * cine-mri            bright-blood SSFP cine as in ACDC: blood ~1, myocardium ~0.3-0.5 of blood,
 *                     dark lungs, bright fat; Rician noise at SNR 8-40, smooth coil bias field.
 * vendor-shifted-mri  the same sequence from another vendor/field strength: lower blood-myocardium
 *                     contrast (gradient-echo-like), fat brighter than blood, stronger bias and blur,
 *                     lower SNR, different scaling.
 * echo-like           ultrasound look: dark blood, bright myocardium and pericardium, Rayleigh speckle,
 *                     log compression, depth gain, a sector mask; 8-bit Secondary Capture (Modality US).
 * ct-like             contrast-enhanced cardiac CT: Hounsfield units (bright blood, grey myocardium,
 *                     fat -90 HU, lung -800 HU), Gaussian noise; CT Image Storage.
 */
import type { Random } from './random.js';
import { Tissue, TISSUE_COUNT } from './scene.js';
import type { SynthDomain } from './types.js';

export interface DomainStyle {
  readonly domain: SynthDomain;
  /** Mean intensity of each tissue (domain units before scaling). */
  readonly tissueMeans: Float64Array;
  /** Blur of the point-spread function (pixels). */
  readonly psfSigmaPx: number;
  readonly noiseSigma: number;
  /** Bias field coefficients (exp of a quadratic in normalised image coordinates) and a coil hot spot. */
  readonly bias: readonly number[];
  readonly hotSpot: { x: number; y: number; sigma: number; gain: number };
  /** Output scaling: stored = value * scale + offset, clipped to [0, maxStored]. */
  readonly scale: number;
  readonly offset: number;
  readonly maxStored: number;
  readonly bitsAllocated: 8 | 16;
  readonly bitsStored: number;
  /** Texture strength (relative) of slow spatial variation inside tissues. */
  readonly texture: number;
  /** echo-like: sector apex (image pixel coordinates), half-angle (rad) and speckle correlation (pixels). */
  readonly sector: { apexX: number; apexY: number; halfAngle: number; maxDepthPx: number } | null;
  readonly speckle: { axialPx: number; lateralPx: number } | null;
  /** CT: RescaleIntercept (stored = HU - intercept). */
  readonly rescaleIntercept: number;
}

function means(rng: Random, table: Record<number, [number, number]>): Float64Array {
  const out = new Float64Array(TISSUE_COUNT);
  for (let t = 0; t < TISSUE_COUNT; t++) {
    const [m, jitter] = table[t] ?? [0.3, 0.05];
    out[t] = m * (1 + rng.gaussian(0, jitter));
  }
  return out;
}

function biasCoefficients(rng: Random, strength: number): number[] {
  return [rng.gaussian(0, strength), rng.gaussian(0, strength), rng.gaussian(0, strength * 0.7), rng.gaussian(0, strength * 0.7), rng.gaussian(0, strength * 0.5)];
}

/** Heart bounding box in image pixel coordinates (to keep the echo sector around the heart). */
export interface HeartBox {
  readonly minX: number;
  readonly maxX: number;
  readonly minY: number;
  readonly maxY: number;
}

export function drawStyle(domain: SynthDomain, rng: Random, rows: number, columns: number, heart: HeartBox): DomainStyle {
  const base = {
    domain,
    hotSpot: { x: rng.uniform(-0.6, 0.6), y: rng.uniform(-0.6, 0.6), sigma: rng.uniform(0.3, 0.7), gain: rng.uniform(0, 0.5) },
    sector: null,
    speckle: null,
    rescaleIntercept: 0,
    offset: 0,
  };
  switch (domain) {
    case 'cine-mri': {
      // Relative to LV blood, near what ACDC mid-ventricular slices show (medians over 15 patients:
      // myocardium 0.36, RV blood 0.76 with partial volume, tissue 1-6 mm around the heart 0.32 with
      // quartiles 0.23-0.46): dark-grey myocardium, bright fat, soft tissue mottled with fat lobules
      // (scene.ts), liver mid grey, lungs dark.
      const myo = rng.uniform(0.3, 0.45);
      const maxStored = rng.pick([255, 600, 1000, 2000, 4095]);
      return {
        ...base,
        tissueMeans: means(rng, {
          [Tissue.Air]: [0, 0], [Tissue.Lung]: [0.06, 0.3], [Tissue.SubcutaneousFat]: [0.85, 0.12], [Tissue.Muscle]: [0.26, 0.12],
          [Tissue.SoftTissue]: [0.3, 0.15], [Tissue.Liver]: [0.34, 0.12], [Tissue.Bone]: [0.3, 0.15], [Tissue.Aorta]: [0.9, 0.06],
          [Tissue.Stomach]: [0.55, 0.3], [Tissue.EpicardialFat]: [0.8, 0.1], [Tissue.LvBlood]: [1, 0], [Tissue.RvBlood]: [0.9, 0.06],
          [Tissue.Myocardium]: [myo, 0], [Tissue.Papillary]: [myo * 1.1, 0.05], [Tissue.AtrialBlood]: [0.95, 0.04], [Tissue.RvWall]: [myo * 1.05, 0.05],
        }),
        psfSigmaPx: rng.uniform(0.45, 0.8),
        noiseSigma: 1 / rng.uniform(8, 40),
        bias: biasCoefficients(rng, 0.22),
        scale: (maxStored / 1.6) * rng.uniform(0.8, 1.1),
        maxStored,
        bitsAllocated: 16,
        bitsStored: maxStored > 4095 ? 16 : 12,
        texture: 0.1,
      };
    }
    case 'vendor-shifted-mri': {
      const myo = rng.uniform(0.5, 0.65);
      const maxStored = rng.pick([800, 1500, 3000]);
      return {
        ...base,
        tissueMeans: means(rng, {
          [Tissue.Air]: [0.02, 0], [Tissue.Lung]: [0.14, 0.3], [Tissue.SubcutaneousFat]: [1.15, 0.1], [Tissue.Muscle]: [0.42, 0.1],
          [Tissue.SoftTissue]: [0.45, 0.15], [Tissue.Liver]: [0.55, 0.1], [Tissue.Bone]: [0.4, 0.15], [Tissue.Aorta]: [0.8, 0.1],
          [Tissue.Stomach]: [0.7, 0.3], [Tissue.EpicardialFat]: [1.05, 0.1], [Tissue.LvBlood]: [1, 0], [Tissue.RvBlood]: [0.75, 0.08],
          [Tissue.Myocardium]: [myo, 0], [Tissue.Papillary]: [myo * 1.05, 0.05], [Tissue.AtrialBlood]: [0.8, 0.06], [Tissue.RvWall]: [myo, 0.05],
        }),
        psfSigmaPx: rng.uniform(1.0, 1.5),
        noiseSigma: 1 / rng.uniform(6, 14),
        bias: biasCoefficients(rng, 0.4),
        scale: (maxStored / 2) * rng.uniform(0.8, 1.1),
        maxStored,
        bitsAllocated: 16,
        bitsStored: 12,
        texture: 0.1,
      };
    }
    case 'echo-like': {
      // Sector apex above the heart; widen the sector until the whole heart box is inside.
      const apexX = (heart.minX + heart.maxX) / 2 + rng.gaussian(0, 5);
      const apexY = Math.max(-rows * 0.1, heart.minY - rng.uniform(25, 60));
      let halfAngle = rng.uniform(0.6, 0.75);
      for (const [px, py] of [[heart.minX, heart.maxY], [heart.maxX, heart.maxY], [heart.minX, heart.minY], [heart.maxX, heart.minY]] as const) {
        halfAngle = Math.max(halfAngle, Math.abs(Math.atan2(px - apexX, Math.max(1, py - apexY))) + 0.08);
      }
      return {
        ...base,
        tissueMeans: means(rng, {
          [Tissue.Air]: [0, 0], [Tissue.Lung]: [0.03, 0.3], [Tissue.SubcutaneousFat]: [0.6, 0.1], [Tissue.Muscle]: [0.28, 0.1],
          [Tissue.SoftTissue]: [0.22, 0.15], [Tissue.Liver]: [0.3, 0.1], [Tissue.Bone]: [0.9, 0.1], [Tissue.Aorta]: [0.04, 0.2],
          [Tissue.Stomach]: [0.25, 0.3], [Tissue.EpicardialFat]: [0.95, 0.05], [Tissue.LvBlood]: [0.03, 0.2], [Tissue.RvBlood]: [0.03, 0.2],
          [Tissue.Myocardium]: [0.5, 0.1], [Tissue.Papillary]: [0.55, 0.1], [Tissue.AtrialBlood]: [0.03, 0.2], [Tissue.RvWall]: [0.6, 0.1],
        }),
        psfSigmaPx: 0,
        noiseSigma: 0.01,
        bias: biasCoefficients(rng, 0.1),
        scale: 255,
        maxStored: 255,
        bitsAllocated: 8,
        bitsStored: 8,
        texture: 0.05,
        sector: { apexX, apexY, halfAngle: Math.min(halfAngle, 1.3), maxDepthPx: Math.hypot(rows, columns) },
        speckle: { axialPx: rng.uniform(0.6, 1.0), lateralPx: rng.uniform(1.4, 2.4) },
      };
    }
    case 'ct-like':
      return {
        ...base,
        tissueMeans: means(rng, {
          [Tissue.Air]: [-1000, 0], [Tissue.Lung]: [-820, 0.05], [Tissue.SubcutaneousFat]: [-95, 0.08], [Tissue.Muscle]: [50, 0.15],
          [Tissue.SoftTissue]: [40, 0.2], [Tissue.Liver]: [90, 0.15], [Tissue.Bone]: [500, 0.2], [Tissue.Aorta]: [330, 0.15],
          [Tissue.Stomach]: [20, 0.5], [Tissue.EpicardialFat]: [-85, 0.08], [Tissue.LvBlood]: [330, 0.15], [Tissue.RvBlood]: [260, 0.2],
          [Tissue.Myocardium]: [105, 0.12], [Tissue.Papillary]: [110, 0.1], [Tissue.AtrialBlood]: [320, 0.15], [Tissue.RvWall]: [100, 0.1],
        }),
        psfSigmaPx: rng.uniform(0.5, 0.8),
        noiseSigma: rng.uniform(12, 35),
        bias: [0, 0, 0, 0, 0],
        hotSpot: { x: 0, y: 0, sigma: 1, gain: 0 },
        scale: 1,
        offset: 1024,
        maxStored: 4095,
        bitsAllocated: 16,
        bitsStored: 12,
        texture: 0,
        rescaleIntercept: -1024,
      };
  }
}

function gaussianKernel(sigma: number): Float32Array {
  const radius = Math.max(1, Math.ceil(sigma * 2.5));
  const kernel = new Float32Array(2 * radius + 1);
  let sum = 0;
  for (let i = -radius; i <= radius; i++) {
    const w = Math.exp(-(i * i) / (2 * sigma * sigma));
    kernel[i + radius] = w;
    sum += w;
  }
  for (let i = 0; i < kernel.length; i++) kernel[i] = (kernel[i] as number) / sum;
  return kernel;
}

/** One blur pass along lines of `length` samples `step` apart, lines starting `lineStep` apart (edges clamped). */
function blurPass(img: Float32Array, lines: number, length: number, step: number, lineStep: number, sigma: number): void {
  if (sigma <= 0.05) return;
  const kernel = gaussianKernel(sigma);
  const radius = (kernel.length - 1) / 2;
  const padded = new Float32Array(length + 2 * radius);
  for (let l = 0; l < lines; l++) {
    const base = l * lineStep;
    for (let p = 0; p < length; p++) padded[p + radius] = img[base + p * step] as number;
    const first = img[base] as number;
    const last = img[base + (length - 1) * step] as number;
    for (let p = 0; p < radius; p++) {
      padded[p] = first;
      padded[length + radius + p] = last;
    }
    for (let p = 0; p < length; p++) {
      let acc = 0;
      for (let k = 0; k < kernel.length; k++) acc += (kernel[k] as number) * (padded[p + k] as number);
      img[base + p * step] = acc;
    }
  }
}

/** Separable Gaussian blur in place (sigmaX along rows, sigmaY along columns, in pixels). */
function blur(img: Float32Array, rows: number, columns: number, sigmaX: number, sigmaY: number): void {
  blurPass(img, rows, columns, 1, columns, sigmaX);
  blurPass(img, columns, rows, columns, 1, sigmaY);
}

/** A pool of standard normal draws; images take the noise from random offsets into it (fast, deterministic). */
export class NormalPool {
  static readonly SIZE = 1 << 20;
  private readonly values = new Float32Array(NormalPool.SIZE);
  constructor(rng: Random) {
    for (let i = 0; i < NormalPool.SIZE; i++) this.values[i] = rng.normal();
  }
  /** `count` normals starting at a random offset drawn from `rng`. */
  take(rng: Random, count: number): Float32Array {
    const out = new Float32Array(count);
    let at = Math.floor(rng.next() * NormalPool.SIZE);
    const stride = 1 + 2 * Math.floor(rng.next() * 8);
    const mask = NormalPool.SIZE - 1;
    for (let i = 0; i < count; i++) {
      out[i] = this.values[at] as number;
      at = (at + stride) & mask;
    }
    return out;
  }
}

/** Smooth multiplicative field (bias, texture) over the image. */
export function smoothField(style: DomainStyle, rows: number, columns: number): Float32Array {
  const field = new Float32Array(rows * columns);
  const [a, b, c, d, e] = style.bias as [number, number, number, number, number];
  const h = style.hotSpot;
  for (let r = 0; r < rows; r++) {
    const Y = (2 * r) / (rows - 1) - 1;
    for (let k = 0; k < columns; k++) {
      const X = (2 * k) / (columns - 1) - 1;
      const spot = h.gain * Math.exp(-((X - h.x) ** 2 + (Y - h.y) ** 2) / (2 * h.sigma * h.sigma));
      field[r * columns + k] = Math.exp(a * X + b * Y + c * X * X + d * Y * Y + e * X * Y) * (1 + spot);
    }
  }
  return field;
}

/** A slowly varying texture in [-1, 1] (bilinear upsampling of a coarse random grid). */
export function textureField(rng: Random, rows: number, columns: number, cell = 24): Float32Array {
  const gr = Math.ceil(rows / cell) + 2;
  const gc = Math.ceil(columns / cell) + 2;
  const grid = new Float32Array(gr * gc);
  for (let i = 0; i < grid.length; i++) grid[i] = rng.uniform(-1, 1);
  const out = new Float32Array(rows * columns);
  for (let r = 0; r < rows; r++) {
    const fy = r / cell;
    const y0 = Math.floor(fy);
    const ty = fy - y0;
    for (let k = 0; k < columns; k++) {
      const fx = k / cell;
      const x0 = Math.floor(fx);
      const tx = fx - x0;
      const g = (yy: number, xx: number): number => grid[yy * gc + xx] as number;
      out[r * columns + k] = (1 - ty) * ((1 - tx) * g(y0, x0) + tx * g(y0, x0 + 1)) + ty * ((1 - tx) * g(y0 + 1, x0) + tx * g(y0 + 1, x0 + 1));
    }
  }
  return out;
}

/**
 * Renders stored pixel values for one image from the tissue maps of sub-planes across its slab.
 * `bias` and `texture` are per-study/per-slice smooth
 * fields; `rng` is this image's noise stream, `pool` the study's normal draws.
 */
export function renderImage(
  style: DomainStyle,
  tissueMaps: readonly Uint8Array[],
  rows: number,
  columns: number,
  bias: Float32Array,
  texture: Float32Array,
  rng: Random,
  pool: NormalPool,
): Uint8Array | Uint16Array {
  const n = rows * columns;
  const img = new Float32Array(n);
  const m = style.tissueMeans;
  const tex = style.texture;
  // Mean over the sub-planes of the slab (through-plane partial volume).
  for (const tissues of tissueMaps) for (let i = 0; i < n; i++) img[i] = (img[i] as number) + (m[tissues[i] as number] as number);
  const inv = 1 / tissueMaps.length;
  for (let i = 0; i < n; i++) img[i] = (img[i] as number) * inv * (1 + tex * (texture[i] as number));
  if (style.domain === 'echo-like') return renderEcho(style, img, rows, columns, bias, rng, pool);
  blur(img, rows, columns, style.psfSigmaPx, style.psfSigmaPx);
  const out = new Uint16Array(n);
  const sigma = style.noiseSigma;
  const scale = style.scale;
  const offset = style.offset;
  const maxStored = style.maxStored;
  const n1 = pool.take(rng, n);
  if (style.domain === 'ct-like') {
    for (let i = 0; i < n; i++) {
      const stored = Math.round(((img[i] as number) + sigma * (n1[i] as number)) * scale + offset);
      out[i] = stored < 0 ? 0 : stored > maxStored ? maxStored : stored;
    }
    return out;
  }
  const n2 = pool.take(rng, n);
  for (let i = 0; i < n; i++) {
    // Rician magnitude of a complex signal with Gaussian noise in both channels.
    const re = (img[i] as number) * (bias[i] as number) + sigma * (n1[i] as number);
    const im = sigma * (n2[i] as number);
    const stored = Math.round(Math.sqrt(re * re + im * im) * scale + offset);
    out[i] = stored > maxStored ? maxStored : stored;
  }
  return out;
}

function renderEcho(style: DomainStyle, echogenicity: Float32Array, rows: number, columns: number, bias: Float32Array, rng: Random, pool: NormalPool): Uint8Array {
  const n = rows * columns;
  const sp = style.speckle ?? { axialPx: 0.8, lateralPx: 2 };
  const re = pool.take(rng, n);
  const im = pool.take(rng, n);
  const floor = pool.take(rng, n);
  blur(re, rows, columns, sp.lateralPx, sp.axialPx);
  blur(im, rows, columns, sp.lateralPx, sp.axialPx);
  // Normalise the speckle so its mean amplitude is ~1 (Rayleigh mean sqrt(pi/2) * sd).
  let power = 0;
  for (let i = 0; i < n; i++) power += (re[i] as number) ** 2 + (im[i] as number) ** 2;
  const norm = 1 / Math.sqrt(power / n);
  const sector = style.sector;
  const out = new Uint8Array(n);
  const k = 40;
  const logK = Math.log(1 + k);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) {
      const i = r * columns + c;
      let inside = true;
      let depth = 0;
      if (sector) {
        const dx = c - sector.apexX;
        const dy = r - sector.apexY;
        depth = Math.hypot(dx, dy) / sector.maxDepthPx;
        inside = dy > 0 && Math.abs(Math.atan2(dx, dy)) < sector.halfAngle;
      }
      if (!inside) continue;
      const amp = Math.hypot(re[i] as number, im[i] as number) * norm;
      const gain = (bias[i] as number) * (1 - 0.45 * depth);
      const env = (echogenicity[i] as number) * amp * gain + style.noiseSigma * Math.abs(floor[i] as number);
      const v = Math.log(1 + k * env) / logK;
      const stored = Math.round(v * 255);
      out[i] = stored < 0 ? 0 : stored > 255 ? 255 : stored;
    }
  }
  return out;
}
