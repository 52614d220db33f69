/**
 * The file-system edge of `pulse infer` / `pulse eval`: a folder's DICOM files as pipeline instances.
 */
import { readdir, readFile } from 'node:fs/promises';
import { extname, join, relative } from 'node:path';
import { BadInputError } from '../core/errors.js';
import type { StudyInstance } from '../core/study-instance.js';

/** Extensions that are certainly not DICOM (sidecars written next to studies: truth.json, labels.bin, ...). */
const NOT_DICOM = new Set(['.json', '.bin', '.txt', '.md', '.cfg', '.gz', '.nii', '.png', '.jpg', '.csv', '.yaml', '.yml']);

/** True when `bytes` look like DICOM: Part 10 preamble + 'DICM', or a file named .dcm / without extension. */
function looksLikeDicom(name: string, bytes: Uint8Array): boolean {
  const hasMagic = bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
  return hasMagic || !NOT_DICOM.has(extname(name).toLowerCase());
}

async function walk(dir: string, out: string[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await walk(path, out);
    else if (entry.isFile() && !entry.name.startsWith('.')) out.push(path);
  }
}

/** Every DICOM-looking file under `dir` (recursively), `source` relative to `dir`. */
export async function readInstancesFromFolder(dir: string): Promise<StudyInstance[]> {
  const paths: string[] = [];
  try {
    await walk(dir, paths);
  } catch (error) {
    throw new BadInputError(`cannot read folder ${dir}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const instances: StudyInstance[] = [];
  for (const path of paths) {
    const bytes = new Uint8Array(await readFile(path));
    if (looksLikeDicom(path, bytes)) instances.push({ source: relative(dir, path), bytes });
  }
  if (instances.length === 0) throw new BadInputError(`no DICOM files in ${dir}`);
  return instances;
}

/** Reads the given files as instances. */
export async function readInstancesFromFiles(paths: readonly string[], base?: string): Promise<StudyInstance[]> {
  return Promise.all(paths.map(async (path) => ({ source: base ? relative(base, path) : path, bytes: new Uint8Array(await readFile(path)) })));
}
