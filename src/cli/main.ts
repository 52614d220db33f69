/** The one `pulse` command; each subcommand lives in its own module under ./commands. */
import { Command } from 'commander';
import { registerSynth } from './commands/synth.js';
import { registerImportNifti } from './commands/import-nifti.js';
import { registerUpload } from './commands/upload.js';
import { registerInfer } from './commands/infer.js';
import { registerEval } from './commands/eval.js';
import { registerServe } from './commands/serve.js';
import { registerDemo } from './commands/demo.js';
import { registerConfig } from './commands/config.js';
import { registerQcReference } from './commands/qc-reference.js';
import { registerCalibrate } from './commands/calibrate.js';

const program = new Command()
  .name('pulse')
  .description('PULSE for Orthanc: cardiac cine MRI segmentation, diagnosis and DICOM SEG/SR reports')
  .version(process.env.npm_package_version ?? '0.1.0');

for (const register of [registerSynth, registerImportNifti, registerUpload, registerInfer, registerEval, registerServe, registerDemo, registerConfig, registerQcReference, registerCalibrate]) {
  register(program);
}

program.parseAsync(process.argv).catch((error: unknown) => {
  // One line on failure, non-zero exit: the contract of every subcommand.
  process.stderr.write(`pulse: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
