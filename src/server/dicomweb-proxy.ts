/**
 * The viewer's window on Orthanc: a read-only DICOMweb proxy. Only GET requests whose path is a
 * QIDO-RS search or a WADO-RS retrieval (studies, series, instances, metadata, frames, rendered,
 * thumbnails, bulk data) pass; Orthanc's credentials are added here and never reach the browser.
 * Answers are streamed as Orthanc sends them (a study's WADO-RS answer can be hundreds of MB), and a
 * browser that goes away cancels the request to Orthanc. Who may ask (a viewer token) is decided by
 * the caller (app.ts); this module knows paths, headers and streams.
 */
import { Readable } from 'node:stream';
import type { Request, Response } from 'express';

/** A UID as DICOM writes it: digits in dot-separated components, at most 64 characters. */
const UID = '(?=[0-9.]{1,64}(?:/|$))[0-9]+(?:\\.[0-9]+)*';
const INSTANCE = `/instances/${UID}(?:/(?:metadata|rendered|thumbnail)|/frames/[0-9]{1,6}(?:,[0-9]{1,6}){0,999}(?:/(?:rendered|thumbnail))?|/bulk(?:/[0-9A-Fa-f]{8}(?:/[0-9]{1,6})?){1,8})?`;
const SERIES = `/series/${UID}(?:/(?:metadata|rendered|thumbnail|instances)|${INSTANCE})?`;
const STUDY = `/studies/${UID}(?:/(?:metadata|rendered|thumbnail|series|instances)|${SERIES})?`;
const READ_PATH = new RegExp(`^(?:/studies|/series|/instances|${STUDY})$`, 'u');

/** Longest query string passed on (QIDO filters, includefield, limit, offset). */
export const MAX_QUERY_LENGTH = 4096;

/**
 * Whether a path below the DICOMweb root is a QIDO-RS search or a WADO-RS retrieval. Everything
 * else is refused: STOW-RS, deletion, Orthanc's own extensions (`/servers`, `/info`), `..`,
 * percent-escapes and over-long UIDs.
 */
export function isDicomWebRead(path: string): boolean {
  return READ_PATH.test(path);
}

/** The headers of Orthanc's answer the browser sees. Caching is off: the bodies are patient data. */
const PASSED_HEADERS = ['content-type', 'content-length', 'etag', 'last-modified'] as const;

export interface DicomWebProxyOptions {
  /**
   * One GET below the DICOMweb root, answered as Orthanc sends it (OrthancRestClient.dicomWebRelay):
   * credentials added there, `forwarded` passed to Orthanc so its BulkDataURIs point at this proxy.
   */
  readonly relay: (pathAndQuery: string, options: { accept?: string; forwarded?: string; signal: AbortSignal }) => Promise<globalThis.Response>;
}

/** A host header we repeat to Orthanc in `Forwarded`: a name or address and a port, nothing else. */
const HOST = /^[A-Za-z0-9.-]{1,253}(?::[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]{2,45}\](?::[0-9]{1,5})?$/u;

/**
 * The handler for `GET <root>/*` (mounted by app.ts under the DICOMweb root, behind the viewer
 * token). `subPath` is the request's path below the root, still percent-encoded.
 */
export function createDicomWebProxy(options: DicomWebProxyOptions) {
  return async (req: Request, res: Response, subPath: string): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.set('Allow', 'GET').status(405).json({ error: 'the DICOMweb proxy is read-only: GET (QIDO-RS, WADO-RS) only' });
      return;
    }
    if (!isDicomWebRead(subPath)) {
      res.status(404).json({ error: 'not a QIDO-RS or WADO-RS path (studies, series, instances, metadata, frames, rendered, thumbnail, bulk)' });
      return;
    }
    const queryAt = req.originalUrl.indexOf('?');
    const query = queryAt < 0 ? '' : req.originalUrl.slice(queryAt);
    if (query.length > MAX_QUERY_LENGTH) {
      res.status(414).json({ error: `the query string is longer than ${MAX_QUERY_LENGTH} characters` });
      return;
    }
    const accept = req.get('Accept');
    const host = req.get('Host');
    const forwarded = host !== undefined && HOST.test(host) ? `host=${host.includes(':') && host.startsWith('[') ? `"${host}"` : host};proto=${req.protocol}` : undefined;
    // The browser leaving (a scrolled-away thumbnail, a closed tab) cancels the request to Orthanc.
    const cancel = new AbortController();
    res.on('close', () => cancel.abort());
    let answer: globalThis.Response;
    try {
      answer = await options.relay(`${subPath}${query}`, {
        ...(accept !== undefined && accept.length <= 1024 ? { accept } : {}),
        ...(forwarded !== undefined ? { forwarded } : {}),
        signal: cancel.signal,
      });
    } catch {
      if (!res.headersSent && !cancel.signal.aborted) res.status(502).json({ error: 'Orthanc is unreachable; try again later' });
      return;
    }
    if (answer.status >= 500) {
      await answer.body?.cancel().catch(() => undefined);
      res.status(502).json({ error: `Orthanc answered ${answer.status}` });
      return;
    }
    res.status(answer.status);
    for (const name of PASSED_HEADERS) {
      const value = answer.headers.get(name);
      // fetch has already undone any content encoding, so the encoded length no longer applies.
      if (value !== null && !(name === 'content-length' && answer.headers.has('content-encoding'))) res.set(name, value);
    }
    res.set('Cache-Control', 'no-store');
    if (answer.body === null || req.method === 'HEAD') {
      await answer.body?.cancel().catch(() => undefined);
      res.end();
      return;
    }
    const body = Readable.fromWeb(answer.body as import('node:stream/web').ReadableStream<Uint8Array>);
    body.on('error', () => res.destroy());
    body.pipe(res);
  };
}
