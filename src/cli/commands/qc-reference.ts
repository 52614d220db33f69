/**
 * `pulse qc-reference --source <acdc training dir> --split train --out <file>`: the model's
 * quality-control reference (embedding statistics and thresholds) from its training patients,
 * written beside the manifest as qc-reference.json (docs/quality-control.md).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { sha256File } from '../../model/manifest.js';
import { acdcCases } from '../../pipeline/evaluate.js';
import { buildQcReference, referenceStudy, type ReferenceStudy } from '../../pipeline/qc-reference.js';
import { loadModel } from '../../pipeline/steps.js';
import { readSplit } from './eval.js';
import { ModelRegistry } from '../../model/registry.js';
import { TTA_TRANSFORMS } from '../../model/tta-names.js';

export interface QcReferenceOptions {
  source: string;
  split?: string;
  out: string;
  model?: string;
  /** Also point the model's manifest at the new reference (qualityControl.reference: file, sha256). */
  updateManifest?: boolean;
}

/** The test-time-flips block a manifest needs beside its reference; without reviewAbove its disagreement is reported only. */
const DEFAULT_UNCERTAINTY = {
  procedure: 'test-time-flips',
  transforms: [...TTA_TRANSFORMS],
  combine: 'mean-softmax',
  outputs: ['probabilities', 'pixel-disagreement', 'structure-disagreement'],
  description:
    'each model window runs as is and flipped/transposed; logits are mapped back, softmax probabilities averaged (segmentation from the average); per pixel the share of transforms whose arg-max differs from the averaged label; per structure 1 - |all transforms agree| / |any transform labels it|. Opt-in: model.tta \'flips\' (PULSE_MODEL_TTA). No reviewAbove yet: disagreement reported only (set it from bench/tta-eval.ts on the training patients)',
};

/**
 * The manifest JSON with qualityControl.reference pointing at the reference file (beside it); an
 * existing uncertainty block stays (its thresholds are the caller's to renew), a missing one gets
 * the default without thresholds.
 */
export function manifestWithQcReference(manifest: Record<string, unknown>, file: string, sha256: string, description: string): Record<string, unknown> {
  const qc = (manifest.qualityControl ?? {}) as Record<string, unknown>;
  return { ...manifest, qualityControl: { ...qc, reference: { file, sha256, description }, uncertainty: qc.uncertainty ?? DEFAULT_UNCERTAINTY } };
}

export async function runQcReference(options: QcReferenceOptions): Promise<void> {
  const split = options.split ?? 'train';
  const sources = await acdcCases(options.source, readSplit(split));
  const model = await loadModel(new ModelRegistry(), options.model, 2);
  const manifestPath = join(model.manifest.directory, 'manifest.json');
  // Checked before the minutes of inference: the manifest names its reference by file name.
  if (options.updateManifest && resolve(dirname(options.out)) !== resolve(model.manifest.directory)) {
    throw new Error(`--update-manifest: ${options.out} is not beside ${manifestPath} (the manifest names its reference by file name)`);
  }
  const studies: ReferenceStudy[] = [];
  for (const source of sources) {
    studies.push(await referenceStudy(await source.load(), model));
    process.stderr.write(`\rqc-reference ${studies.length}/${sources.length}`);
  }
  process.stderr.write('\n');
  const network = { ...model.manifest, sha256: sha256File(join(model.manifest.directory, model.manifest.model.file)) };
  const reference = buildQcReference(studies, network, `ACDC '${split}' split of training/splits.json (${studies.length} patients, ED and ES, every slice), 4-fold patient-level cross-fitted thresholds`);
  await writeFile(options.out, `${JSON.stringify(reference)}\n`);
  if (options.updateManifest) {
    const raw = JSON.parse(await readFile(manifestPath, 'utf8')) as Record<string, unknown>;
    const description = `embedding statistics of ${studies.length} ACDC patients ('${split}' split of training/splits.json; ED and ES, every slice: ${reference.training.images} images): mean and Ledoit-Wolf-shrunk covariance (as its inverse) of the 'embedding' output, with the OOD and entropy thresholds; written by \`pulse qc-reference --split ${split}\``;
    await writeFile(manifestPath, `${JSON.stringify(manifestWithQcReference(raw, basename(options.out), sha256File(options.out), description), null, 2)}\n`);
    process.stderr.write(`updated ${manifestPath}: qualityControl.reference\n`);
  }
  process.stdout.write(`${JSON.stringify({ thresholds: reference.thresholds, training: reference.training, shrinkage: reference.embedding.shrinkage }, null, 2)}\n`);
}

export function registerQcReference(program: Command): void {
  program
    .command('qc-reference')
    .description("compute the model's quality-control reference (embedding statistics, thresholds) from ACDC training patients")
    .requiredOption('--source <dir>', 'ACDC training folder (patientNNN/ with Info.cfg)')
    .option('--split <name>', "list from training/splits.json", 'train')
    .requiredOption('--out <file>', 'where to write qc-reference.json (beside the manifest)')
    .option('--model <manifest>', 'model manifest.json (default: the bundled pulse-lite)')
    .option('--update-manifest', "also set the manifest's qualityControl.reference (file, sha256) to the new reference")
    .action(async (options: QcReferenceOptions) => runQcReference(options));
}
