/**
 * What the dashboard shows of a finished job, kept under the data folder: result.json (the same
 * contract as `pulse infer`), the volume curves and the ED/ES thumbnails, one folder per job id.
 * Written after the study's outputs are in Orthanc; losing it costs a picture, never a result, so
 * failures to write are the caller's to log, not to fail the job.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StudyOutputs, StudyResult } from '../core/result.js';

export interface ArchivedStudy {
  readonly result: StudyResult;
  readonly volumeCurves: Record<string, number[]>;
  /** Slice drawn in the thumbnails, when there are thumbnails. */
  readonly thumbnailSlice?: number;
}

export interface ResultArchive {
  save(jobId: number, outputs: StudyOutputs): void;
  load(jobId: number): ArchivedStudy | undefined;
  thumbnail(jobId: number, phase: 'ed' | 'es'): Uint8Array | undefined;
}

export function createResultArchive(root: string): ResultArchive {
  const folder = (jobId: number): string => {
    if (!Number.isSafeInteger(jobId) || jobId < 1) throw new TypeError(`job id must be a positive integer (got ${jobId})`);
    return join(root, String(jobId));
  };
  const readIfThere = (path: string): Buffer | undefined => {
    try {
      return readFileSync(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  };
  return {
    save(jobId, outputs) {
      // Written aside, then renamed: a reader never sees half a folder.
      const target = folder(jobId);
      const staging = `${target}.writing`;
      rmSync(staging, { recursive: true, force: true });
      mkdirSync(staging, { recursive: true });
      const views = outputs.views;
      const summary = { result: outputs.result, volumeCurves: views?.volumeCurves ?? {}, ...(views?.thumbnails ? { thumbnailSlice: views.thumbnails.slice } : {}) };
      writeFileSync(join(staging, 'study.json'), JSON.stringify(summary));
      if (views?.thumbnails) {
        writeFileSync(join(staging, 'ed.png'), views.thumbnails.ed);
        writeFileSync(join(staging, 'es.png'), views.thumbnails.es);
      }
      rmSync(target, { recursive: true, force: true });
      renameSync(staging, target);
    },
    load(jobId) {
      const text = readIfThere(join(folder(jobId), 'study.json'));
      return text === undefined ? undefined : (JSON.parse(text.toString('utf8')) as ArchivedStudy);
    },
    thumbnail(jobId, phase) {
      const bytes = readIfThere(join(folder(jobId), `${phase}.png`));
      return bytes === undefined ? undefined : new Uint8Array(bytes);
    },
  };
}
