/**
 * Moving DICOM between the worker and Orthanc: WADO-RS retrieve of a series as stored, a transcoding
 * fallback through /instances/{id}/modify (for encodings our reader cannot decode), and STOW-RS store.
 * Errors keep the REST client's mapping: transport and 5xx are UpstreamUnavailableError (retried).
 */
import { randomUUID } from 'node:crypto';
import type { OrthancRestClient } from '../orthanc/rest-client.js';
import type { StudyInstance } from '../core/study-instance.js';
import { UpstreamUnavailableError } from '../core/errors.js';

import { EXPLICIT_VR_LITTLE_ENDIAN } from '../dicom/modules/part10.js';

/** Splits a multipart/related body into its parts' bodies. */
export function parseMultipart(body: Uint8Array, contentType: string): Uint8Array[] {
  const match = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const boundary = match?.[1] ?? match?.[2];
  if (!boundary) throw new Error(`multipart answer without a boundary (Content-Type ${contentType})`);
  const buffer = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: Uint8Array[] = [];
  let start = buffer.indexOf(delimiter);
  while (start !== -1) {
    const afterDelimiter = start + delimiter.length;
    if (buffer.subarray(afterDelimiter, afterDelimiter + 2).toString() === '--') break;
    const headerEnd = buffer.indexOf('\r\n\r\n', afterDelimiter);
    if (headerEnd === -1) break;
    const next = buffer.indexOf(delimiter, headerEnd + 4);
    if (next === -1) break;
    // The part body ends with the CRLF that precedes the next delimiter.
    const end = buffer[next - 2] === 0x0d && buffer[next - 1] === 0x0a ? next - 2 : next;
    parts.push(new Uint8Array(buffer.subarray(headerEnd + 4, end)));
    start = next;
  }
  return parts;
}

/** How to reach Orthanc for the requests the REST client cannot shape (an Accept header). */
export interface OrthancAccess {
  readonly url: string;
  readonly username?: string;
  readonly password?: string;
  readonly timeoutMs: number;
}

/**
 * Every instance of one series over WADO-RS, as stored (`transfer-syntax=*`): Orthanc does not
 * transcode, our reader decodes. Orthanc 1.10.1 with the GDCM plugin can crash while transcoding
 * JPEG 2000, and decoding here spares the PACS the work.
 */
export async function retrieveSeries(access: OrthancAccess, dicomWebRoot: string, studyUID: string, seriesUID: string): Promise<StudyInstance[]> {
  const route = `${dicomWebRoot.replace(/\/+$/, '')}/studies/${studyUID}/series/${seriesUID}`;
  const headers: Record<string, string> = { Accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' };
  if (access.username !== undefined) headers.Authorization = `Basic ${Buffer.from(`${access.username}:${access.password ?? ''}`).toString('base64')}`;
  let res: Response;
  let body: Uint8Array;
  try {
    res = await fetch(`${access.url.replace(/\/+$/, '')}${route}`, { headers, signal: AbortSignal.timeout(access.timeoutMs) });
    body = new Uint8Array(await res.arrayBuffer());
  } catch (error) {
    throw new UpstreamUnavailableError(`Orthanc at ${access.url} is unreachable (WADO-RS series ${seriesUID}): ${(error as Error).name === 'TimeoutError' ? 'timed out' : ((error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message)}`);
  }
  if (res.status >= 500) throw new UpstreamUnavailableError(`Orthanc answered ${res.status} to WADO-RS series ${seriesUID}`);
  if (!res.ok) throw new Error(`Orthanc answered ${res.status} to WADO-RS series ${seriesUID} of study ${studyUID}`);
  return parseMultipart(body, res.headers.get('content-type') ?? '').map((bytes, i) => ({ source: `series ${seriesUID} part ${i + 1}`, bytes }));
}

/**
 * Every instance of one series transcoded by Orthanc's REST API to Explicit VR Little Endian, UIDs
 * kept. Instance-level /modify answers the file without storing anything. The fallback when the
 * reader meets an encoding it cannot decode.
 */
export async function retrieveSeriesTranscoded(client: OrthancRestClient, seriesOrthancId: string): Promise<StudyInstance[]> {
  const series = await client.getJson<{ Instances: string[] }>(`/series/${encodeURIComponent(seriesOrthancId)}`);
  const out: StudyInstance[] = [];
  for (const id of series.Instances) {
    const res = await client.send(
      'POST',
      `/instances/${encodeURIComponent(id)}/modify`,
      JSON.stringify({ Transcode: EXPLICIT_VR_LITTLE_ENDIAN, Keep: ['StudyInstanceUID', 'SeriesInstanceUID', 'SOPInstanceUID'], Force: true }),
      'application/json',
    );
    out.push({ source: `instance ${id}`, bytes: new Uint8Array(await res.arrayBuffer()) });
  }
  return out;
}

/** STOW-RS into one study: one multipart request, each part exactly `application/dicom`. */
export async function storeInstances(client: OrthancRestClient, dicomWebRoot: string, studyUID: string, instances: readonly Uint8Array[]): Promise<void> {
  if (instances.length === 0) return;
  const boundary = `pulse-${randomUUID()}`;
  const chunks: Buffer[] = [];
  for (const bytes of instances) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\nContent-Length: ${bytes.byteLength}\r\n\r\n`));
    chunks.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  const res = await client.send(
    'POST',
    `${dicomWebRoot.replace(/\/+$/, '')}/studies/${studyUID}`,
    new Uint8Array(Buffer.concat(chunks)),
    `multipart/related; type="application/dicom"; boundary=${boundary}`,
  );
  const answer = (await res.json()) as Record<string, { Value?: unknown[] }>;
  // 00081198 FailedSOPSequence: Orthanc refused at least one instance.
  const failed = answer['00081198']?.Value ?? [];
  if (failed.length > 0) throw new Error(`STOW-RS refused ${failed.length} of ${instances.length} instances in study ${studyUID}`);
}
