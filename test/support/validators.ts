/**
 * Wrappers around the real DICOM readers that judge our output: dciodvfy (dicom3tools), dcmdump and
 * dsrdump (dcmtk), PixelMed DicomSRValidator and DicomInstanceValidator. Each writes the bytes to a
 * temporary file, runs the tool and returns its messages split into errors and warnings.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ValidatorReport {
  readonly errors: readonly string[];
  readonly warnings: readonly string[];
  /** Everything the tool printed (stdout then stderr). */
  readonly output: string;
}

/** Runs `fn` with the bytes in a temporary .dcm file, removed afterwards. */
export function withTempDicom<T>(bytes: Uint8Array, fn: (path: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'pulse-validate-'));
  try {
    const path = join(dir, 'object.dcm');
    writeFileSync(path, bytes);
    return fn(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function run(command: string, args: readonly string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.error) throw result.error;
  return `${result.stdout ?? ''}${result.stderr ?? ''}`;
}

/** dciodvfy: lines starting with 'Error' / 'Warning'. */
export function dciodvfy(bytes: Uint8Array): ValidatorReport {
  const output = withTempDicom(bytes, (path) => run('dciodvfy', [path]));
  const lines = output.split('\n');
  return { errors: lines.filter((l) => l.startsWith('Error')), warnings: lines.filter((l) => l.startsWith('Warning')), output };
}

const PIXELMED_FLAGS = ['-Djdk.xml.xpathExprOpLimit=0', '-Djdk.xml.xpathExprGrpLimit=0', '-Djdk.xml.xpathTotalOpLimit=0'];

function pixelmed(mainClass: string, bytes: Uint8Array): ValidatorReport {
  const output = withTempDicom(bytes, (path) => run('java', [...PIXELMED_FLAGS, '-cp', '/usr/share/java/pixelmed.jar', mainClass, path]));
  const lines = output.split('\n');
  return { errors: lines.filter((l) => /^Error/.test(l)), warnings: lines.filter((l) => /^Warning/.test(l)), output };
}

/** PixelMed DicomSRValidator: IOD plus SR template (TID 1500 rows, relationships, code meanings). */
export function pixelmedSrValidator(bytes: Uint8Array): ValidatorReport {
  return pixelmed('com.pixelmed.validate.DicomSRValidator', bytes);
}

/** PixelMed DicomInstanceValidator: IOD and module conformance. */
export function pixelmedInstanceValidator(bytes: Uint8Array): ValidatorReport {
  return pixelmed('com.pixelmed.validate.DicomInstanceValidator', bytes);
}

/** dcmdump of the whole data set (all values printed, long ones too). */
export function dcmdump(bytes: Uint8Array, extraArgs: readonly string[] = []): string {
  return withTempDicom(bytes, (path) => execFileSync('dcmdump', ['+L', ...extraArgs, path], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }));
}

/** dsrdump rendering of an SR content tree (codes printed). */
export function dsrdump(bytes: Uint8Array, extraArgs: readonly string[] = ['+Pc']): string {
  return withTempDicom(bytes, (path) => run('dsrdump', [...extraArgs, path]));
}
