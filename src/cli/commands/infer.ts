/**
 * `pulse infer <folder> --out <dir>`: the whole pipeline offline on one study's files; writes
 * result.json (the contract in DESIGN.md) and seg.dcm / sr.dcm (and overlay.dcm, report.pdf + pdf.dcm
 * on request), diagnostic-report.json (FHIR) on request.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { integerOption } from '../integer-option.js';
import { processStudy } from '../../pipeline/process-study.js';
import { readInstancesFromFolder } from '../../pipeline/read-folder.js';
import { resolveCalibration } from './calibration-option.js';
import { parseTta, TTA_OPTION_HELP } from '../tta-option.js';

export interface InferOptions {
  out: string;
  model?: string;
  threads?: number;
  allPhases?: boolean;
  overlay?: boolean;
  pdf?: boolean;
  fhir?: boolean;
  anyOrientation?: boolean;
  /** Test-time augmentation: none | flips (src/model/tta.ts). */
  tta?: string;
  data?: string;
  calibration?: string;
}

/** Runs one study folder and writes its outputs; returns the paths written. */
export async function runInfer(folder: string, options: InferOptions): Promise<string[]> {
  const instances = await readInstancesFromFolder(folder);
  const calibration = resolveCalibration(options);
  const outputs = await processStudy(instances, {
    ...(options.model ? { manifestPath: options.model } : {}),
    ...(options.threads ? { threads: options.threads } : {}),
    segPhases: options.allPhases ? 'all' : 'ed-es',
    overlay: options.overlay ?? false,
    pdf: options.pdf ?? false,
    fhir: options.fhir ?? false,
    ...(options.anyOrientation ? { seriesRules: { orientation: 'any' as const } } : {}),
    calibration,
    ...(options.tta ? { tta: parseTta(options.tta) } : {}),
  });
  // Which copied values were changed to fit their VR (keyword and kind, never the value).
  if (outputs.sanitised?.length) process.stderr.write(`copied values sanitised: ${outputs.sanitised.join('; ')}\n`);
  await mkdir(options.out, { recursive: true });
  const written: string[] = [];
  const write = async (name: string, data: string | Uint8Array) => {
    const path = join(options.out, name);
    await writeFile(path, data);
    written.push(path);
  };
  await write('result.json', `${JSON.stringify(outputs.result, null, 2)}\n`);
  if (outputs.seg && outputs.seg.length > 0) await write('seg.dcm', outputs.seg);
  if (outputs.sr.length > 0) await write('sr.dcm', outputs.sr);
  if (outputs.overlay && outputs.overlay.length > 0) await write('overlay.dcm', outputs.overlay);
  if (outputs.pdf) await write('report.pdf', outputs.pdf);
  if (outputs.pdfDicom) await write('pdf.dcm', outputs.pdfDicom);
  if (outputs.fhir) await write('diagnostic-report.json', `${JSON.stringify(outputs.fhir, null, 2)}\n`);
  return written;
}

export function registerInfer(program: Command): void {
  program
    .command('infer')
    .description('segment, measure and diagnose one cine study offline; writes result.json, seg.dcm and sr.dcm')
    .argument('<folder>', 'folder holding the study\'s DICOM files (searched recursively)')
    .requiredOption('--out <dir>', 'output folder')
    .option('--model <manifest>', 'model manifest.json (default: the bundled pulse-lite)')
    .option('--threads <n>', 'onnxruntime intra-op threads (default 1)', integerOption('--threads', { min: 1 }))
    .option('--all-phases', 'put every phase in the SEG, not only ED and ES')
    .option('--overlay', 'also write a Secondary Capture overlay (overlay.dcm)')
    .option('--pdf', 'also write the PDF report (report.pdf) and its DICOM Encapsulated PDF (pdf.dcm)')
    .option('--fhir', 'also write the FHIR R4 DiagnosticReport Bundle (diagnostic-report.json)')
    .option('--data <dir>', 'data folder holding stored calibrations (as pulse serve --data)')
    .option('--calibration <id|path>', 'apply a site calibration: a stored id (with --data) or a calibration file')
    .option('--any-orientation', 'take the largest stack in any orientation, even when an oblique (short-axis) one exists')
    .option('--tta <mode>', TTA_OPTION_HELP)
    .action(async (folder: string, options: InferOptions) => {
      const written = await runInfer(folder, options);
      process.stdout.write(`${written.join('\n')}\n`);
    });
}
