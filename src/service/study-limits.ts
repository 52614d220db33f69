/**
 * Limits a study must respect before anything is retrieved or decoded (pure): instances, stored bytes
 * and pixels of the selected series, from Orthanc's index. A study over a limit is refused with the
 * limit it broke, so one huge or hostile study cannot exhaust the service's memory.
 */
import type { ServiceConfig } from '../config/schema.js';
import type { SeriesFacts } from '../orthanc/study-facts.js';

export type StudyLimits = ServiceConfig['limits'];

/** Rows and Columns of a series' first instance, as read from Orthanc. */
export interface SeriesDimensions {
  readonly rows: number;
  readonly columns: number;
}

/** What the selected series would cost to retrieve and decode. */
export interface StudySize {
  readonly instances: number;
  readonly bytes: number;
  readonly pixels: number;
}

export function studySize(series: readonly SeriesFacts[], dimensions: ReadonlyMap<string, SeriesDimensions | undefined>): StudySize {
  let instances = 0;
  let bytes = 0;
  let pixels = 0;
  for (const s of series) {
    const dims = dimensions.get(s.seriesInstanceUID);
    for (const instance of s.instances) {
      instances++;
      bytes += instance.fileSize ?? 0;
      if (dims !== undefined) pixels += dims.rows * dims.columns * Math.max(1, instance.numberOfFrames ?? 1);
    }
  }
  return { instances, bytes, pixels };
}

/** Why the study is refused, or undefined when it is within every limit. */
export function limitBreach(size: StudySize, limits: StudyLimits): string | undefined {
  if (size.instances > limits.maxInstances) return `the study is over the configured limits: ${size.instances} instances (limit ${limits.maxInstances})`;
  if (size.bytes > limits.maxBytes) return `the study is over the configured limits: ${size.bytes} bytes stored (limit ${limits.maxBytes})`;
  if (size.pixels > limits.maxPixels) return `the study is over the configured limits: ${size.pixels} pixels to decode (limit ${limits.maxPixels})`;
  return undefined;
}
