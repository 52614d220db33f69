/**
 * `pulse qc-reference --source <acdc training dir> --split train --out <file>`: the model's
 * quality-control reference (embedding statistics and thresholds) from its training patients,
 * written beside the manifest as qc-reference.json (docs/quality-control.md).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { sha256File } from '../../model/manifest.js';
import { acdcCases } from '../../pipeline/evaluate.js';
import { buildQcReference, referenceStudy, type ReferenceStudy } from '../../pipeline/qc-reference.js';
import { loadModel } from '../../pipeline/steps.js';
import { readSplit } from './eval.js';
import { ModelRegistry } from '../../model/registry.js';

export interface QcReferenceOptions {
  source: string;
  split?: string;
  out: string;
  model?: string;
}

export async function runQcReference(options: QcReferenceOptions): Promise<void> {
  const split = options.split ?? 'train';
  const sources = await acdcCases(options.source, readSplit(split));
  const model = await loadModel(new ModelRegistry(), options.model, 2);
  const studies: ReferenceStudy[] = [];
  for (const source of sources) {
    studies.push(await referenceStudy(await source.load(), model));
    process.stderr.write(`\rqc-reference ${studies.length}/${sources.length}`);
  }
  process.stderr.write('\n');
  const network = { ...model.manifest, sha256: sha256File(join(model.manifest.directory, model.manifest.model.file)) };
  const reference = buildQcReference(studies, network, `ACDC '${split}' split of training/splits.json (${studies.length} patients, ED and ES, every slice), 4-fold patient-level cross-fitted thresholds`);
  await writeFile(options.out, `${JSON.stringify(reference)}\n`);
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
    .action(async (options: QcReferenceOptions) => runQcReference(options));
}
