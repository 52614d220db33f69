/** The edge of the generator: a study in memory <-> a study folder on disk. */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SOPInstanceUID } from '../dicom/uid.js';
import { BadInputError } from '../core/errors.js';
import type { SynthStudy, SynthTruth } from './types.js';

/**
 * Writes `study` to `<parentDir>/<study.name>/`: the DICOM files under `dicom/`, `truth.json` and
 * `labels.bin` beside them. Returns the study folder. Overwrites files of the same name.
 */
export async function writeStudy(parentDir: string, study: SynthStudy): Promise<string> {
  const studyDir = join(parentDir, study.name);
  const dicomDir = join(studyDir, study.truth.dicomFolder);
  await mkdir(dicomDir, { recursive: true });
  for (const file of study.files) await writeFile(join(dicomDir, file.name), file.bytes);
  await writeFile(join(studyDir, study.truth.labels.file), study.labelsBin);
  await writeFile(join(studyDir, 'truth.json'), `${JSON.stringify(study.truth, null, 2)}\n`);
  return studyDir;
}

/** A study folder read back: its truth, its label maps per SOP instance and the paths of its DICOM files. */
export interface SynthStudyOnDisk {
  readonly dir: string;
  readonly truth: SynthTruth;
  readonly labels: ReadonlyMap<SOPInstanceUID, Uint8Array>;
  /** Absolute paths of the DICOM files, in truth.labels.instances order (slice-major, then phase). */
  readonly dicomFiles: readonly string[];
}

/** Reads a folder written by writeStudy (or `pulse synth`). */
export async function readSynthStudy(studyDir: string): Promise<SynthStudyOnDisk> {
  const truth = JSON.parse(await readFile(join(studyDir, 'truth.json'), 'utf8')) as SynthTruth;
  if (truth.format !== 'pulse-synth-truth') throw new BadInputError(`truth.json in ${studyDir} is not a pulse synth truth file (format ${String(truth.format)})`);
  const bin = new Uint8Array(await readFile(join(studyDir, truth.labels.file)));
  const labels = new Map<SOPInstanceUID, Uint8Array>();
  for (const entry of truth.labels.instances) {
    const length = entry.rows * entry.columns;
    if (entry.offset + length > bin.length) {
      throw new BadInputError(`labels.bin is shorter than truth.json says (instance ${entry.sopInstanceUID})`, truth.studyInstanceUID);
    }
    labels.set(entry.sopInstanceUID as SOPInstanceUID, bin.subarray(entry.offset, entry.offset + length));
  }
  const dicomFiles = truth.labels.instances.map((entry) => join(studyDir, truth.dicomFolder, entry.file));
  return { dir: studyDir, truth, labels, dicomFiles };
}
