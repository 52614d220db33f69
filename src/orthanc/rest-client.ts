/**
 * The one Orthanc client of the service: Orthanc's REST API (system, upload, resources, lookup,
 * metadata, modalities, transcoding) and the DICOMweb routes the service needs (WADO-RS of a series
 * as stored, STOW-RS), all over one transport (http.ts: one auth header, one timeout and abort
 * handling, one error mapping: 4xx -> OrthancRequestError, never retried; 5xx and no answer ->
 * UpstreamUnavailableError, retried).
 *
 * Why DICOMweb goes through fetch here and not through dicomweb-client (dicomweb.ts): the service
 * must ask for `transfer-syntax=*` (Orthanc 1.10.1 with GDCM can crash transcoding JPEG 2000, and
 * our reader decodes), must send STOW-RS parts with the exact headers Orthanc wants, and must cancel
 * a request when the worker stops; dicomweb-client can do none of the three (its `mediaTypes` throws,
 * its XMLHttpRequest takes no AbortSignal). dicomweb.ts keeps dicomweb-client for generic QIDO-RS and
 * WADO-RS against any DICOMweb server (tools and tests), where the library's API is what users know.
 */
import { EXPLICIT_VR_LITTLE_ENDIAN } from '../dicom/modules/part10.js';
import { OrthancHttp, type OrthancConnection } from './http.js';
import { buildDicomMultipart, parseMultipart, readMultipart, retrievalMismatch } from './multipart.js';
import { UpstreamUnavailableError } from '../core/errors.js';

/** WADO-RS in the stored transfer syntax: Orthanc sends its files byte for byte. */
const WADO_AS_STORED = 'multipart/related; type="application/dicom"; transfer-syntax=*';

/** A retrieval that delivered less (or other) than Orthanc's index holds: transient, retried. */
export class IncompleteRetrievalError extends UpstreamUnavailableError {}

export { OrthancRequestError } from './http.js';

export interface OrthancClientOptions extends OrthancConnection {
  /** Where Orthanc's DICOMweb plugin answers, below the base URL. @defaultValue '/dicom-web' */
  readonly dicomWebRoot?: string;
}

/** Per-call options of the requests a running job makes. */
export interface CallOptions {
  /** Cancels the request: the worker passes the job's signal, aborted when it stops. */
  readonly signal?: AbortSignal;
}

/** The fields of `GET /system` we use (Orthanc 1.10 and later). */
export interface OrthancSystem {
  readonly Version: string;
  readonly ApiVersion: number;
  readonly DicomAet: string;
  readonly DicomPort: number;
  readonly HttpPort: number;
  readonly Name: string;
  readonly PluginsEnabled?: boolean;
  readonly [key: string]: unknown;
}

/** Answer of `POST /instances`. */
export interface StoreResult {
  /** Orthanc's identifier of the instance. */
  readonly ID: string;
  /** "Success" for a new instance, "AlreadyStored" when it was there already. */
  readonly Status: 'Success' | 'AlreadyStored' | string;
  readonly ParentStudy: string;
  readonly ParentSeries: string;
  readonly ParentPatient: string;
}

export type OrthancLevel = 'patients' | 'studies' | 'series' | 'instances';

/** A typed client for one Orthanc: REST and the DICOMweb routes the service uses. */
export class OrthancRestClient {
  readonly url: string;
  /** DICOMweb root below `url`, without a trailing slash ('/dicom-web'). */
  readonly dicomWebRoot: string;
  private readonly http: OrthancHttp;

  constructor(options: OrthancClientOptions) {
    this.http = new OrthancHttp(options);
    this.url = this.http.url;
    this.dicomWebRoot = (options.dicomWebRoot ?? '/dicom-web').replace(/\/+$/u, '');
  }

  /** `GET /system`: version, API version, AET, ports. */
  system(): Promise<OrthancSystem> {
    return this.getJson<OrthancSystem>('/system');
  }

  /** `POST /instances` with one Part 10 file. */
  async uploadInstance(bytes: Uint8Array): Promise<StoreResult> {
    return (await this.request('POST', '/instances', bytes, 'application/dicom')) as StoreResult;
  }

  /** Orthanc identifiers of every resource at `level`. */
  list(level: OrthancLevel): Promise<string[]> {
    return this.getJson<string[]>(`/${level}`);
  }

  /** Orthanc identifiers of the studies. */
  listStudies(): Promise<string[]> {
    return this.list('studies');
  }

  /** Orthanc identifiers of the series of one study. */
  async listSeries(studyId: string): Promise<string[]> {
    const study = await this.getJson<{ Series: string[] }>(`/studies/${encodeURIComponent(studyId)}`);
    return study.Series;
  }

  /** Orthanc identifiers of the instances of one series. */
  async listInstances(seriesId: string): Promise<string[]> {
    const series = await this.getJson<{ Instances: string[] }>(`/series/${encodeURIComponent(seriesId)}`);
    return series.Instances;
  }

  /** The Part 10 bytes of one instance (`GET /instances/{id}/file`). */
  async instanceFile(instanceId: string, options: CallOptions = {}): Promise<Uint8Array> {
    return (await this.http.send(`/instances/${encodeURIComponent(instanceId)}/file`, options)).bytes();
  }

  /** Deletes one resource. */
  async delete(level: OrthancLevel, id: string): Promise<void> {
    await this.request('DELETE', `/${level}/${encodeURIComponent(id)}`);
  }

  /** `GET` any route and parse JSON (for routes this client does not wrap). An empty answer is a cut one. */
  async getJson<T>(path: string, options: CallOptions = {}): Promise<T> {
    const value = await this.request('GET', path, undefined, undefined, options);
    if (value === undefined) throw new IncompleteRetrievalError(`Orthanc's answer to GET ${path} came back empty (cut short?)`);
    return value as T;
  }

  /**
   * Sends a request and parses a JSON answer (an empty body gives `undefined`). Orthanc only ever
   * sends whole JSON: an answer that does not parse was cut short on the way (a connection closed
   * mid-answer without framing), which is transient, never a fault of the study or of ours.
   */
  async request(method: string, path: string, body?: Uint8Array | string, contentType?: string, options: CallOptions = {}): Promise<unknown> {
    const text = await (await this.http.send(path, { method, ...(body !== undefined ? { body } : {}), ...(contentType !== undefined ? { contentType } : {}), ...options })).text();
    if (text.length === 0) return undefined;
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new IncompleteRetrievalError(`Orthanc's answer to ${method} ${path} is not whole JSON (${(error as Error).message}): cut short?`);
    }
  }

  /** Sends a request and hands back the raw 2xx Response (failures mapped as for every request). */
  async send(method: string, path: string, body?: Uint8Array | string, contentType?: string): Promise<Response> {
    return (await this.http.send(path, { method, ...(body !== undefined ? { body } : {}), ...(contentType !== undefined ? { contentType } : {}) })).response;
  }

  /**
   * WADO-RS: every instance of one series, as stored (`transfer-syntax=*`): Orthanc does not
   * transcode, our reader decodes. Orthanc 1.10.1 with the GDCM plugin can crash while transcoding
   * JPEG 2000, and decoding here spares the PACS the work.
   *
   * The answer must end with its closing delimiter; with `expectedFileSizes` (Orthanc's index: one
   * entry per instance, its FileSize) the instance count and every size must match too, and the body
   * is abandoned once it grows past what they announce, so a retrieval holds about one series' stored
   * size at most. Anything less is an IncompleteRetrievalError (transient: retried), never a shorter
   * study.
   */
  async retrieveSeriesAsStored(
    studyInstanceUID: string,
    seriesInstanceUID: string,
    options: CallOptions & { readonly expectedFileSizes?: readonly (number | undefined)[] } = {},
  ): Promise<Uint8Array[]> {
    const { expectedFileSizes, ...call } = options;
    const path = `${this.dicomWebRoot}/studies/${studyInstanceUID}/series/${seriesInstanceUID}`;
    const answer = await this.http.send(path, { accept: WADO_AS_STORED, ...call });
    const sizes = expectedFileSizes?.filter((n): n is number => n !== undefined);
    const known = sizes !== undefined && sizes.length === expectedFileSizes!.length;
    // Each part adds a delimiter and a few headers (about 150 bytes with Orthanc); 4 KiB each is generous.
    const body = known ? await answer.bytesAtMost(sizes.reduce((a, b) => a + b, 0) + 4096 * (sizes.length + 1)) : await answer.bytes();
    const { parts, complete } = readMultipart(body, answer.response.headers.get('content-type') ?? '');
    const what = `WADO-RS series ${seriesInstanceUID} of study ${studyInstanceUID}`;
    if (!complete) throw new IncompleteRetrievalError(`${what} came back cut short (no closing boundary after ${parts.length} parts)`);
    if (expectedFileSizes !== undefined) {
      const mismatch = known
        ? retrievalMismatch(parts.map((p) => p.byteLength), sizes)
        : parts.length === expectedFileSizes.length
          ? undefined
          : `${parts.length} of ${expectedFileSizes.length} instances received`;
      if (mismatch !== undefined) throw new IncompleteRetrievalError(`${what} is incomplete: ${mismatch}`);
    }
    return parts;
  }

  /** WADO-RS: one instance as stored (`transfer-syntax=*`), byte for byte. */
  async retrieveInstanceAsStored(studyInstanceUID: string, seriesInstanceUID: string, sopInstanceUID: string, options: CallOptions = {}): Promise<Uint8Array> {
    const parts = await this.wadoAsStored(`${this.dicomWebRoot}/studies/${studyInstanceUID}/series/${seriesInstanceUID}/instances/${sopInstanceUID}`, options);
    const first = parts[0];
    if (first === undefined) throw new Error(`WADO-RS instance ${sopInstanceUID} came back empty`);
    return first;
  }

  /**
   * One instance transcoded by Orthanc to Explicit VR Little Endian, UIDs kept: instance-level
   * `/modify` answers the file without storing anything. The fallback for encodings our reader
   * cannot decode.
   */
  async instanceTranscoded(instanceId: string, options: CallOptions = {}): Promise<Uint8Array> {
    const body = JSON.stringify({ Transcode: EXPLICIT_VR_LITTLE_ENDIAN, Keep: ['StudyInstanceUID', 'SeriesInstanceUID', 'SOPInstanceUID'], Force: true });
    return (await this.http.send(`/instances/${encodeURIComponent(instanceId)}/modify`, { method: 'POST', body, contentType: 'application/json', ...options })).bytes();
  }

  /**
   * STOW-RS into one study: one multipart request. Throws when Orthanc lists any instance in the
   * answer's FailedSOPSequence (it refused an object we built: our bug, never retried).
   */
  async storeInstances(studyInstanceUID: string, instances: readonly Uint8Array[], options: CallOptions = {}): Promise<void> {
    if (instances.length === 0) return;
    const { body, contentType } = buildDicomMultipart(instances);
    const answer = await this.http.send(`${this.dicomWebRoot}/studies/${studyInstanceUID}`, { method: 'POST', body, contentType, ...options });
    const parsed = JSON.parse(await answer.text()) as Record<string, { Value?: unknown[] }>;
    // 00081198 FailedSOPSequence: Orthanc refused at least one instance.
    const failed = parsed['00081198']?.Value ?? [];
    if (failed.length > 0) throw new Error(`STOW-RS refused ${failed.length} of ${instances.length} instances in study ${studyInstanceUID}`);
  }

  /**
   * A DICOMweb GET below the DICOMweb root (`/studies/...?...`), answered as Orthanc sends it (status,
   * headers, streamed body), with this client's credentials: for the viewer's read-only proxy.
   * `forwarded` (RFC 7239, e.g. `host=127.0.0.1:8088;proto=http`) makes the DICOMweb plugin write
   * its BulkDataURIs for the proxy's address instead of its own.
   */
  dicomWebRelay(pathAndQuery: string, options: CallOptions & { readonly accept?: string; readonly forwarded?: string } = {}): Promise<Response> {
    const headers: Record<string, string> = {};
    if (options.accept !== undefined) headers.Accept = options.accept;
    if (options.forwarded !== undefined) headers.Forwarded = options.forwarded;
    return this.http.relay(`${this.dicomWebRoot}${pathAndQuery}`, { headers, ...(options.signal ? { signal: options.signal } : {}) });
  }

  private async wadoAsStored(path: string, options: CallOptions): Promise<Uint8Array[]> {
    const answer = await this.http.send(path, { accept: WADO_AS_STORED, ...options });
    return parseMultipart(await answer.bytes(), answer.response.headers.get('content-type') ?? '');
  }
}
