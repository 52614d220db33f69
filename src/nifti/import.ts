/**
 * NIfTI -> DICOM MR cine series: a single NIfTI volume (3D, or 4D with time as phases), or an ACDC
 * patient folder (its ED and ES volumes as two phases of one series, Info.cfg for height, weight and
 * group). Returns the Part 10 files in memory plus the label maps aligned to each written instance.
 */
import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { SOPInstanceUID } from '../dicom/uid.js';
import { BadInputError } from '../core/errors.js';
import { float32Digits, sliceGeometry } from './geometry.js';
import { buildMrSeries, type ImportedFile, type ImportedInstance, type MrSeries, type PhaseVolume } from './mr-series.js';
import { readNifti, type Affine, type AffineSource, type NiftiVolume } from './read-nifti.js';

export type { ImportedFile, ImportedInstance } from './mr-series.js';

/**
 * Nominal R-R interval (ms) used to turn frame indices into TriggerTime when the data gives no
 * timing (ACDC's NIfTIs carry none): 60 beats per minute.
 */
export const NOMINAL_RR_MS = 1000;

/** What every import returns. */
export interface NiftiImport {
  /** One Part 10 file per slice and phase (`sSS-pPP.dcm`). */
  readonly files: ImportedFile[];
  /** Label map per written instance (rows x columns, row-major), when labels were given. */
  readonly labels: Map<SOPInstanceUID, Uint8Array>;
  readonly info: NiftiImportInfo;
}

export interface NiftiImportInfo {
  readonly studyInstanceUID: string;
  readonly seriesInstanceUID: string;
  readonly frameOfReferenceUID: string;
  readonly patientId: string;
  readonly rows: number;
  readonly columns: number;
  readonly slices: number;
  readonly phases: number;
  /** Which NIfTI header fields gave the geometry. */
  readonly affineSource: AffineSource;
  /** Every written instance with its slice and phase (slice-major, then phase). */
  readonly instances: readonly ImportedInstance[];
}

/** ACDC's label values in the _gt volumes. */
export const ACDC_LABELS = { rv: 1, myo: 2, lv: 3 } as const;

export interface AcdcInfo extends NiftiImportInfo {
  /** e.g. "ACDC-patient001" (an anonymised public identifier). */
  readonly patientId: string;
  /** ACDC diagnostic group: NOR, DCM, HCM, MINF, RV. Not written into the DICOM files. */
  readonly group: string;
  readonly heightCm?: number;
  readonly weightKg?: number;
  /** 1-based ACDC frame numbers of end-diastole and end-systole. */
  readonly edFrame: number;
  readonly esFrame: number;
  readonly nbFrames: number;
  /** Phase index (0-based, in the written series) of ED and ES. */
  readonly edPhase: number;
  readonly esPhase: number;
  readonly labelValues: typeof ACDC_LABELS;
}

export interface AcdcImport extends NiftiImport {
  readonly info: AcdcInfo;
}

/** Info.cfg of an ACDC patient, parsed. */
export interface AcdcConfig {
  readonly ed: number;
  readonly es: number;
  readonly group: string;
  readonly heightCm?: number;
  readonly weightKg?: number;
  readonly nbFrames: number;
}

/** Parses an ACDC Info.cfg ("ED: 1", "ES: 12", "Group: DCM", "Height: 184.0", "NbFrame: 30", "Weight: 95.0"). */
export function parseAcdcInfo(text: string, source = 'Info.cfg'): AcdcConfig {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/u)) {
    const m = /^\s*([A-Za-z]+)\s*:\s*(.*?)\s*$/u.exec(line);
    if (m) fields.set(m[1]!.toLowerCase(), m[2]!);
  }
  const int = (key: string): number => {
    const value = Number(fields.get(key));
    if (!Number.isInteger(value) || value < 1) throw new BadInputError(`${source}: ${key} is missing or not a positive integer`);
    return value;
  };
  const positive = (key: string): number | undefined => {
    const value = Number(fields.get(key));
    return Number.isFinite(value) && value > 0 ? value : undefined;
  };
  const heightCm = positive('height');
  const weightKg = positive('weight');
  return {
    ed: int('ed'),
    es: int('es'),
    group: fields.get('group') ?? '',
    nbFrames: int('nbframe'),
    ...(heightCm !== undefined ? { heightCm } : {}),
    ...(weightKg !== undefined ? { weightKg } : {}),
  };
}

export interface AcdcImportOptions {
  /** Read the `_gt` label volumes too. @defaultValue true */
  readonly labels?: boolean;
  /** R-R interval for TriggerTime. @defaultValue NOMINAL_RR_MS */
  readonly rrMs?: number;
  /**
   * Changes the voxels, labels and grid before they are written as DICOM (the robustness evaluation's
   * perturbations, pipeline/perturb.ts): whatever it returns is what the files and label maps hold.
   */
  readonly transform?: (stack: LabelledStack) => LabelledStack;
}

/** A short-axis stack before it is written as DICOM: every phase's voxels (and labels) on one grid. */
export interface LabelledStack {
  /** [nx, ny, nz]: voxel (i, j, k) of a phase is at index i + nx * (j + ny * k). */
  readonly dims: readonly [number, number, number];
  /** Voxel-to-world (RAS+, mm). */
  readonly affine: Affine;
  readonly sliceThicknessMm: number;
  readonly phases: readonly PhaseVolume[];
}

/**
 * Imports an ACDC patient folder (e.g. ../shared/data/acdc/training/patient001): ED and ES volumes
 * become two phases of one cine series (phase order = frame order), TriggerTime = (frame - 1) x
 * rrMs / NbFrame. UIDs derive from "acdc/<folder name>", so re-importing gives the same UIDs.
 */
export async function importAcdcPatient(folder: string, options: AcdcImportOptions = {}): Promise<AcdcImport> {
  const dir = resolve(folder);
  const name = basename(dir);
  const cfgPath = join(dir, 'Info.cfg');
  let cfgText: string;
  try {
    cfgText = await readFile(cfgPath, 'utf8');
  } catch {
    throw new BadInputError(`${name} is not an ACDC patient folder (no Info.cfg)`);
  }
  const cfg = parseAcdcInfo(cfgText, `${name}/Info.cfg`);
  const frames = [...new Set([cfg.ed, cfg.es])].sort((a, b) => a - b);
  const volumePath = (frame: number, gt: boolean): string => join(dir, `${name}_frame${String(frame).padStart(2, '0')}${gt ? '_gt' : ''}.nii.gz`);
  const withLabels = options.labels ?? true;
  const volumes = await Promise.all(frames.map((f) => readNifti(volumePath(f, false))));
  const labelVolumes = withLabels ? await Promise.all(frames.map((f) => readNifti(volumePath(f, true)))) : [];
  const first = volumes[0]!;
  for (const [n, v] of [...volumes, ...labelVolumes].entries()) {
    if (!sameGrid(first, v)) throw new BadInputError(`${name}: volume ${n} has dimensions ${v.dims.join('x')}, the first ${first.dims.join('x')}`);
  }
  const interval = (options.rrMs ?? NOMINAL_RR_MS) / cfg.nbFrames;
  const phases: PhaseVolume[] = volumes.map((v, p) => ({
    voxels: v.data,
    triggerTimeMs: Math.round((frames[p]! - 1) * interval * 100) / 100,
    ...(labelVolumes[p] ? { labels: labelVolumes[p]!.data } : {}),
  }));
  const patientId = `ACDC-${name}`;
  const attributes: Record<string, string | number> = {
    PatientID: patientId,
    PatientName: `ACDC^${name}`,
    StudyDescription: 'Cardiac cine MRI (ACDC, imported from NIfTI)',
  };
  if (cfg.heightCm !== undefined) attributes.PatientSize = (cfg.heightCm / 100).toFixed(3);
  if (cfg.weightKg !== undefined) attributes.PatientWeight = String(cfg.weightKg);
  const read: LabelledStack = { dims: [first.dims[0], first.dims[1], first.dims[2]], affine: first.affine, sliceThicknessMm: first.pixdim[2], phases };
  const stack = options.transform ? options.transform(read) : read;
  const series = buildSeries(stack, `acdc/${name}`, attributes, 'Cine SAX ED+ES (ACDC NIfTI import)');
  return {
    files: series.files,
    labels: series.labels,
    info: {
      ...seriesInfo(series, stack, first.affineSource, patientId, phases.length),
      group: cfg.group,
      ...(cfg.heightCm !== undefined ? { heightCm: cfg.heightCm } : {}),
      ...(cfg.weightKg !== undefined ? { weightKg: cfg.weightKg } : {}),
      edFrame: cfg.ed,
      esFrame: cfg.es,
      nbFrames: cfg.nbFrames,
      edPhase: frames.indexOf(cfg.ed),
      esPhase: frames.indexOf(cfg.es),
      labelValues: ACDC_LABELS,
    },
  };
}

export interface NiftiVolumeImportOptions {
  /** A label NIfTI on the same grid (3D, or 4D matching a 4D image). */
  readonly labelsPath?: string;
  /** PatientID to write. @defaultValue "NIFTI-<file name without extension>" */
  readonly patientId?: string;
  /** PatientName to write. @defaultValue the PatientID */
  readonly patientName?: string;
  /** PatientSize in metres. */
  readonly patientSizeM?: number;
  /** PatientWeight in kg. */
  readonly patientWeightKg?: number;
  /** Seed of every UID. @defaultValue the absolute path of the file */
  readonly uidSeed?: string;
  /** Time between phases of a 4D volume (ms). @defaultValue pixdim[4] when its unit is known, else NOMINAL_RR_MS / phases */
  readonly frameIntervalMs?: number;
  readonly seriesDescription?: string;
}

/**
 * Imports one NIfTI short-axis volume: a 3D volume gives one phase, a 4D volume one phase per time
 * point (TriggerTime = t x frame interval).
 */
export async function importNiftiVolume(path: string, options: NiftiVolumeImportOptions = {}): Promise<NiftiImport> {
  const absolute = resolve(path);
  const stem = basename(absolute).replace(/\.nii(\.gz)?$/iu, '');
  const volume = await readNifti(absolute);
  const labelVolume = options.labelsPath !== undefined ? await readNifti(options.labelsPath) : undefined;
  if (labelVolume && !sameGrid(volume, labelVolume, true)) {
    throw new BadInputError(`labels ${basename(options.labelsPath!)} have dimensions ${labelVolume.dims.join('x')}, the image ${volume.dims.join('x')}`);
  }
  const [nx, ny, nz, nt] = volume.dims;
  const perPhase = nx * ny * nz;
  const interval = options.frameIntervalMs ?? volume.timeStepMs ?? NOMINAL_RR_MS / nt;
  const phases: PhaseVolume[] = [];
  for (let t = 0; t < nt; t++) {
    const labelOffset = labelVolume && labelVolume.dims[3] === nt ? t * perPhase : 0;
    phases.push({
      voxels: volume.data.subarray(t * perPhase, (t + 1) * perPhase),
      triggerTimeMs: Math.round(t * interval * 100) / 100,
      ...(labelVolume ? { labels: labelVolume.data.subarray(labelOffset, labelOffset + perPhase) } : {}),
    });
  }
  const patientId = options.patientId ?? `NIFTI-${stem}`.slice(0, 64);
  const attributes: Record<string, string | number> = {
    PatientID: patientId,
    PatientName: options.patientName ?? patientId,
    StudyDescription: 'Cardiac cine MRI (imported from NIfTI)',
  };
  if (options.patientSizeM !== undefined) attributes.PatientSize = options.patientSizeM.toFixed(3);
  if (options.patientWeightKg !== undefined) attributes.PatientWeight = String(options.patientWeightKg);
  const stack: LabelledStack = { dims: [nx, ny, nz], affine: volume.affine, sliceThicknessMm: volume.pixdim[2], phases };
  const series = buildSeries(stack, options.uidSeed ?? absolute, attributes, options.seriesDescription ?? `Cine SAX (NIfTI import of ${stem})`.slice(0, 64));
  return { files: series.files, labels: series.labels, info: seriesInfo(series, stack, volume.affineSource, patientId, nt) };
}

function buildSeries(stack: LabelledStack, uidSeed: string, attributes: Record<string, string | number>, seriesDescription: string): MrSeries {
  const geometry = sliceGeometry(stack.affine, stack.dims);
  return buildMrSeries({ uidSeed, geometry, phases: stack.phases, sliceThicknessMm: float32Digits(stack.sliceThicknessMm), attributes, seriesDescription });
}

function seriesInfo(series: MrSeries, stack: LabelledStack, affineSource: AffineSource, patientId: string, phases: number): NiftiImportInfo {
  return {
    studyInstanceUID: series.studyInstanceUID,
    seriesInstanceUID: series.seriesInstanceUID,
    frameOfReferenceUID: series.frameOfReferenceUID,
    patientId,
    rows: stack.dims[1],
    columns: stack.dims[0],
    slices: stack.dims[2],
    phases,
    affineSource,
    instances: series.instances,
  };
}

/** Same spatial grid (and same number of time points unless `allowSingle` lets a 3D label volume serve every phase). */
function sameGrid(a: NiftiVolume, b: NiftiVolume, allowSingle = false): boolean {
  const spatial = a.dims[0] === b.dims[0] && a.dims[1] === b.dims[1] && a.dims[2] === b.dims[2];
  return spatial && (a.dims[3] === b.dims[3] || (allowSingle && b.dims[3] === 1));
}
