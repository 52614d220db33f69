/**
 * Stores every DICOM file under a folder (recursively) in Orthanc through `POST /instances`.
 * Non-DICOM files are skipped with a reason; files Orthanc rejects are counted as failed. An
 * unreachable Orthanc stops the whole run (UpstreamUnavailableError): there is no point in trying
 * every remaining file.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { NotDicomError, parseDicom } from '../dicom/read/dicom-file.js';
import { UpstreamUnavailableError } from '../core/errors.js';
import type { OrthancRestClient } from './rest-client.js';

export type UploadOutcome = 'stored' | 'already-present' | 'skipped' | 'failed';

export interface UploadEvent {
  /** Path relative to the uploaded folder. */
  readonly file: string;
  readonly outcome: UploadOutcome;
  /** Why a file was skipped or failed. */
  readonly reason?: string;
  /** Files handled so far, and in all. */
  readonly done: number;
  readonly total: number;
}

export interface UploadSummary {
  readonly total: number;
  readonly stored: number;
  readonly alreadyPresent: number;
  readonly skipped: ReadonlyArray<{ readonly file: string; readonly reason: string }>;
  readonly failed: ReadonlyArray<{ readonly file: string; readonly reason: string }>;
  /** Orthanc study identifiers touched by the upload. */
  readonly studies: readonly string[];
}

export interface UploadOptions {
  /** Called after each file. */
  readonly onFile?: (event: UploadEvent) => void;
  /** Files sent at once. @defaultValue 4 */
  readonly concurrency?: number;
}

/** Every regular file under `dir`, sorted, as absolute paths. */
export async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name))
    .sort();
}

/**
 * Why `bytes` is not a DICOM file, or undefined when it is one: a Part 10 file has "DICM" at
 * offset 128; a bare data set (no preamble) counts when it parses cleanly and has a SOPInstanceUID.
 */
export function notDicomReason(bytes: Uint8Array): string | undefined {
  if (bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d) return undefined;
  try {
    const parsed = parseDicom(bytes, { untilTag: '7FE00010' });
    if (parsed.parseError !== undefined) return `not a DICOM file (no DICM preamble; parse stopped: ${parsed.parseError})`;
    if (typeof parsed.dataset.SOPInstanceUID !== 'string') return 'not a DICOM file (no DICM preamble, no SOPInstanceUID)';
    return undefined;
  } catch (error) {
    if (error instanceof NotDicomError) return 'not a DICOM file (no DICM preamble, not parseable)';
    return `not a DICOM file (no DICM preamble; ${error instanceof Error ? error.message : String(error)})`;
  }
}

/** Uploads every DICOM file under `dir`. */
export async function uploadFolder(client: OrthancRestClient, dir: string, options: UploadOptions = {}): Promise<UploadSummary> {
  const files = await listFiles(dir);
  let stored = 0;
  let alreadyPresent = 0;
  let done = 0;
  const skipped: Array<{ file: string; reason: string }> = [];
  const failed: Array<{ file: string; reason: string }> = [];
  const studies = new Set<string>();
  const report = (file: string, outcome: UploadOutcome, reason?: string): void => {
    done++;
    options.onFile?.({ file, outcome, ...(reason !== undefined ? { reason } : {}), done, total: files.length });
  };

  const queue = [...files];
  const handle = async (path: string): Promise<void> => {
    const name = relative(dir, path);
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(path));
    } catch (error) {
      failed.push({ file: name, reason: `cannot read: ${(error as Error).message}` });
      report(name, 'failed', failed.at(-1)!.reason);
      return;
    }
    const reason = notDicomReason(bytes);
    if (reason !== undefined) {
      skipped.push({ file: name, reason });
      report(name, 'skipped', reason);
      return;
    }
    try {
      const result = await client.uploadInstance(bytes);
      studies.add(result.ParentStudy);
      if (result.Status === 'AlreadyStored') {
        alreadyPresent++;
        report(name, 'already-present');
      } else {
        stored++;
        report(name, 'stored');
      }
    } catch (error) {
      if (error instanceof UpstreamUnavailableError) {
        queue.length = 0; // stop the other workers too
        throw error;
      }
      failed.push({ file: name, reason: (error as Error).message });
      report(name, 'failed', (error as Error).message);
    }
  };

  const workers = Array.from({ length: Math.max(1, options.concurrency ?? 4) }, async () => {
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) await handle(next);
  });
  await Promise.all(workers);
  return { total: files.length, stored, alreadyPresent, skipped, failed, studies: [...studies] };
}
