/**
 * `pulse import-nifti <input> --out <dir>`: a NIfTI short-axis volume, or an ACDC patient folder
 * (Info.cfg + ED/ES volumes), becomes a DICOM MR cine series in <dir>/dicom/, with <dir>/import.json
 * describing it (UIDs, grid, ED/ES phases, instances). `--labels` also writes the labels as a
 * reference SEG (algorithm type MANUAL) to <dir>/seg/reference-seg.dcm.
 */
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { importAcdcPatient, importNiftiVolume, type NiftiImport } from '../../nifti/index.js';
import { BadInputError } from '../../core/errors.js';
import { DEFAULT_MANIFEST_PATH, loadManifest } from '../../model/manifest.js';
import { buildReferenceSegmentation } from '../../pipeline/reference-seg.js';
import { fileURLToPath } from 'node:url';

interface ImportNiftiOptions {
  readonly out: string;
  readonly labels?: string | boolean;
  readonly patientId?: string;
  readonly frameIntervalMs?: string;
  readonly model?: string;
}

export function registerImportNifti(program: Command): void {
  program
    .command('import-nifti')
    .description('turn a NIfTI short-axis volume (3D or 4D) or an ACDC patient folder into a DICOM MR cine series')
    .argument('<input>', 'a .nii/.nii.gz file, or an ACDC patient folder (Info.cfg + patientNNN_frameXX.nii.gz)')
    .requiredOption('--out <dir>', 'output folder (DICOM files go to <dir>/dicom/, a description to <dir>/import.json)')
    .option('--labels [path]', 'also write the labels as a reference DICOM SEG (ACDC: the _gt volumes; a volume: the label NIfTI at path)')
    .option('--patient-id <id>', 'PatientID for a NIfTI volume (default NIFTI-<file name>)')
    .option('--frame-interval-ms <ms>', 'time between phases of a 4D volume when the header gives none')
    .option('--model <manifest>', 'model manifest whose segments name the labels (default: the bundled model)')
    .action(async (input: string, options: ImportNiftiOptions) => {
      const result = await runImportNifti(input, options);
      process.stdout.write(
        `wrote ${result.files.length} DICOM files (${result.info.slices} slices x ${result.info.phases} phases) to ${join(options.out, 'dicom')}\n`,
      );
    });
}

async function runImportNifti(input: string, options: ImportNiftiOptions): Promise<NiftiImport> {
  const info = await stat(input).catch(() => undefined);
  if (info === undefined) throw new BadInputError(`${input} does not exist`);
  const wantLabels = options.labels !== undefined && options.labels !== false;
  // Read the manifest before any work: its segments name the label values of the reference SEG.
  const manifest = wantLabels ? loadManifest(options.model ?? fileURLToPath(DEFAULT_MANIFEST_PATH)) : undefined;
  let result: NiftiImport;
  if (info.isDirectory()) {
    result = await importAcdcPatient(input, { labels: wantLabels });
  } else {
    const interval = options.frameIntervalMs !== undefined ? Number(options.frameIntervalMs) : undefined;
    if (interval !== undefined && !(interval > 0)) throw new BadInputError('--frame-interval-ms must be a positive number');
    result = await importNiftiVolume(input, {
      ...(typeof options.labels === 'string' ? { labelsPath: options.labels } : {}),
      ...(options.patientId !== undefined ? { patientId: options.patientId } : {}),
      ...(interval !== undefined ? { frameIntervalMs: interval } : {}),
    });
  }
  const dicomDir = join(options.out, 'dicom');
  await mkdir(dicomDir, { recursive: true });
  for (const file of result.files) await writeFile(join(dicomDir, file.name), file.bytes);
  if (manifest !== undefined) {
    if (result.labels.size === 0) throw new BadInputError(`${input}: --labels given but no label volume was found`);
    const seg = buildReferenceSegmentation({
      instances: result.files.map((f) => ({ source: f.name, bytes: f.bytes })),
      labels: result.labels,
      manifest,
      annotator: info.isDirectory() ? 'ACDC expert annotation' : 'NIfTI label volume',
    });
    await mkdir(join(options.out, 'seg'), { recursive: true });
    await writeFile(join(options.out, 'seg', 'reference-seg.dcm'), seg.bytes);
  }
  await writeFile(join(options.out, 'import.json'), `${JSON.stringify({ format: 'pulse-nifti-import', ...result.info }, null, 2)}\n`);
  return result;
}
