/**
 * The model manifest (models/<name>/manifest.json): everything the pipeline needs to know about a
 * model export. Nothing about shapes, labels or groups is hard-coded elsewhere in TypeScript, so a
 * real PULSE export that writes this manifest drops in with no code change.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { TTA_TRANSFORMS } from './tta-names.js';

const CodeSchema = z.object({
  value: z.string().min(1),
  scheme: z.string().min(1), // 'SCT', 'DCM', ...
  meaning: z.string().min(1),
});
export type CodeDefinition = z.infer<typeof CodeSchema>;

const TensorSchema = z.object({
  name: z.string().min(1),
  /** -1 marks a dynamic dimension (batch). */
  shape: z.array(z.number().int()),
  description: z.string().optional(),
});

const SegmentSchema = z.object({
  labelValue: z.number().int().min(1).max(255),
  name: z.string().min(1),
  /** Short machine name used in result keys and feature names: 'rv', 'myo', 'lv'. */
  key: z.string().regex(/^[a-z][a-z0-9_]*$/),
  category: CodeSchema,
  type: CodeSchema,
  /** Recommended display colour, sRGB 0-255. */
  color: z.tuple([z.number().int().min(0).max(255), z.number().int().min(0).max(255), z.number().int().min(0).max(255)]),
});
export type SegmentDefinition = z.infer<typeof SegmentSchema>;

const GroupSchema = z.object({
  name: z.string().min(1),
  description: z.string().min(1),
  code: CodeSchema,
});

const FeatureSchema = z.object({
  /** A feature name from src/analysis/study-features.ts (e.g. 'lvef_pct', 'embedding_ed_mean'). */
  name: z.string().min(1),
  /** Number of values it contributes (vectors such as pooled embeddings have more than one). */
  size: z.number().int().min(1).default(1),
});

/**
 * What quality control needs from the model: the embedding statistics of its training images (the
 * OOD reference file, pinned by its hash) and the uncertainty procedure the pipeline may run.
 */
const QualityControlSchema = z.object({
  reference: z.object({
    /** The QC reference written by `pulse qc-reference` (embedding mean/precision, thresholds), beside the manifest. */
    file: z.string().min(1),
    /** sha256 of that file, lower-case hex: a reference that changed without the manifest is refused. */
    sha256: z.string().regex(/^[0-9a-f]{64}$/, 'sha256 must be 64 lower-case hex digits'),
    /** What the statistics are computed from, in words. */
    description: z.string().optional(),
  }),
  uncertainty: z.object({
    /** Test-time augmentation with flips/transposes of the model window (src/model/tta.ts). */
    procedure: z.literal('test-time-flips'),
    /** Transforms run per window, identity first (its embedding and features are kept). */
    transforms: z.array(z.enum(TTA_TRANSFORMS)).min(1),
    /** How the transforms' outputs are combined. */
    combine: z.literal('mean-softmax'),
    /** What the procedure gives, by name (documented in MODEL_CARD.md). */
    outputs: z.array(z.string().min(1)).min(1),
    /**
     * Per segment key: the disagreement above which quality control asks for review (never fail);
     * a key without a value, or no record at all: reported only.
     */
    reviewAbove: z.record(z.string(), z.number().min(0).max(1)).optional(),
    description: z.string().optional(),
  }),
});

export const ManifestSchema = z.object({
  name: z.string().min(1),
  version: z.string().regex(/^\d+\.\d+\.\d+(?:[-+].*)?$/, 'version must be a semantic version'),
  description: z.string().optional(),
  /** The per-slice network. */
  model: z.object({
    file: z.string().min(1),
    opset: z.number().int().optional(),
  }),
  input: TensorSchema.extend({
    /** [N, C, H, W]; C = number of adjacent slices fed as channels (1 or 3 for 2.5D). */
    layout: z.literal('NCHW'),
    /** In-plane physical spacing of the model grid, [row spacing, column spacing] in mm. */
    pixelSpacingMm: z.tuple([z.number().positive(), z.number().positive()]),
    /** How the channels are formed: the slice itself, or its neighbours along the stack normal. */
    channels: z.enum(['slice', 'adjacent-slices']),
    normalization: z.object({
      /** z-score per slice after clipping intensities at the given percentiles. */
      type: z.literal('zscore-per-slice'),
      clipPercentiles: z.tuple([z.number().min(0).max(100), z.number().min(0).max(100)]),
    }),
    /** Where the model window sits on the source image. */
    cropping: z.enum(['image-centre']),
  }),
  outputs: z.object({
    segmentation: TensorSchema, // [N, K, H, W] logits, K = 1 + segments
    embedding: TensorSchema, // [N, D] global token
    features: TensorSchema, // [N, F, h, w] per-pixel decoder features (for site calibration)
    diagnosis: TensorSchema.optional(), // [N, G] slice-level logits, when the export has them
  }),
  segments: z.array(SegmentSchema).min(1),
  diagnosis: z.object({
    groups: z.array(GroupSchema).min(2),
    /** Study-level head: features of the whole study -> group logits. */
    studyHead: z.object({
      file: z.string().min(1),
      input: z.string().min(1),
      output: z.string().min(1),
      features: z.array(FeatureSchema).min(1),
      /** Standardisation applied before the head: (x - mean) / std, per feature value. */
      mean: z.array(z.number()),
      std: z.array(z.number()),
      /** Logits are divided by this before the softmax (calibrated on validation patients). */
      temperature: z.number().positive().default(1),
      /** Body-surface area (m²) assumed when PatientSize or PatientWeight is missing. */
      defaultBsaM2: z.number().positive(),
    }),
  }),
  qualityControl: QualityControlSchema.optional(),
  training: z.record(z.string(), z.unknown()).optional(),
  validation: z.record(z.string(), z.unknown()).optional(),
});

export type Manifest = z.infer<typeof ManifestSchema>;

export interface LoadedManifest extends Manifest {
  /** Folder that holds manifest.json; model files are resolved against it. */
  readonly directory: string;
}

/** Reads and validates a manifest, checking the cross-field rules zod cannot express. */
export function loadManifest(path: string): LoadedManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`model manifest ${path} cannot be read: ${(error as Error).message}`);
  }
  const parsed = ManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`model manifest ${path} is invalid: ${issues}`);
  }
  const manifest = parsed.data;
  const labels = manifest.segments.map((s) => s.labelValue);
  if (new Set(labels).size !== labels.length) throw new Error(`model manifest ${path}: segments repeat a labelValue`);
  const head = manifest.diagnosis.studyHead;
  const width = head.features.reduce((n, f) => n + f.size, 0);
  if (head.mean.length !== width || head.std.length !== width) {
    throw new Error(`model manifest ${path}: diagnosis.studyHead mean/std have ${head.mean.length}/${head.std.length} values, features add up to ${width}`);
  }
  const directory = dirname(resolve(path));
  const transforms = manifest.qualityControl?.uncertainty.transforms;
  if (transforms && (transforms[0] !== 'identity' || new Set(transforms).size !== transforms.length)) {
    throw new Error(`model manifest ${path}: qualityControl.uncertainty.transforms must start with 'identity' and name each transform once`);
  }
  const limits = Object.keys(manifest.qualityControl?.uncertainty.reviewAbove ?? {});
  const unknown = limits.filter((key) => !manifest.segments.some((s) => s.key === key));
  if (unknown.length > 0) throw new Error(`model manifest ${path}: qualityControl.uncertainty.reviewAbove names ${unknown.join(', ')}, not a segment key (${manifest.segments.map((s) => s.key).join(', ')})`);
  if (manifest.qualityControl) checkFileHash(path, directory, manifest.qualityControl.reference.file, manifest.qualityControl.reference.sha256);
  return { ...manifest, directory };
}

/** sha256 of a file, lower-case hex. */
export function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** A file the manifest pins by hash must exist beside it and hash to the named value. */
function checkFileHash(manifestPath: string, directory: string, file: string, expected: string): void {
  const full = join(directory, file);
  if (!existsSync(full)) throw new Error(`model manifest ${manifestPath}: qualityControl.reference names ${file}, which does not exist in ${directory}`);
  const actual = sha256File(full);
  if (actual !== expected) {
    throw new Error(`model manifest ${manifestPath}: ${file} has sha256 ${actual}, the manifest's qualityControl.reference.sha256 is ${expected} (the file changed without the manifest: rerun \`pulse qc-reference\` and update the manifest)`);
  }
}

/** Default bundled model. */
export const DEFAULT_MANIFEST_PATH = new URL('../../../models/pulse-lite/manifest.json', import.meta.url);

/**
 * Path of the bundled manifest, found by walking up from this module to the project root: works from
 * src/ (tsx) and from dist/src/ (compiled) alike, unlike a fixed relative URL.
 */
export function defaultManifestPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'models', 'pulse-lite', 'manifest.json');
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'models'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return fileURLToPath(DEFAULT_MANIFEST_PATH);
    dir = parent;
  }
}
