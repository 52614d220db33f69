/**
 * Generic DICOMweb access (QIDO-RS, WADO-RS, STOW-RS) to any DICOMweb server through
 * dicomweb-client, typed for this project.
 *
 * Where it earns its place: searches and retrievals by tools and tests, against Orthanc or any
 * other DICOMweb node, with the API of the library the DICOMweb stack's users know (OHIF speaks it).
 * The service's own job path does not use it: it needs `transfer-syntax=*`, Orthanc's exact STOW-RS
 * part headers and cancellation, which dicomweb-client cannot give; that path is OrthancRestClient's
 * (rest-client.ts), over the same auth header (http.ts) and the same error classes as here.
 *
 * dicomweb-client speaks XMLHttpRequest, which Node does not have ("XMLHttpRequest is not defined",
 * see FIELD-NOTES): `ensureXhr()` installs the xhr2 polyfill on globalThis once, before the first
 * request. Transport failures (connection refused, timeout: XHR status 0) and 5xx answers become
 * UpstreamUnavailableError so the queue retries them; 4xx answers are an OrthancRequestError.
 */
import { createRequire } from 'node:module';
import { UpstreamUnavailableError } from '../core/errors.js';
import { basicAuthorization, OrthancRequestError } from './http.js';

const require = createRequire(import.meta.url);

/** A DICOM JSON attribute (PS3.18 F.2). */
export interface DicomJsonAttribute {
  readonly vr: string;
  readonly Value?: readonly unknown[];
  readonly BulkDataURI?: string;
  readonly InlineBinary?: string;
}
/** A DICOM JSON data set: 8-digit upper-case hex tag -> attribute. */
export type DicomJsonDataset = Readonly<Record<string, DicomJsonAttribute>>;

/** Query parameters of a QIDO-RS search (attribute keywords or tags, `limit`, `offset`, `includefield`, `fuzzymatching`). */
export type QidoQuery = Readonly<Record<string, string | number | boolean>>;

export interface DicomWebOptions {
  /** DICOMweb root, e.g. http://127.0.0.1:8042/dicom-web */
  readonly url: string;
  readonly username?: string;
  readonly password?: string;
  /** Per-request timeout. @defaultValue 120000 ms */
  readonly timeoutMs?: number;
}

interface RawClient {
  searchForStudies(options: { queryParams?: QidoQuery }): Promise<DicomJsonDataset[]>;
  searchForSeries(options: { studyInstanceUID?: string; queryParams?: QidoQuery }): Promise<DicomJsonDataset[]>;
  searchForInstances(options: { studyInstanceUID?: string; seriesInstanceUID?: string; queryParams?: QidoQuery }): Promise<DicomJsonDataset[]>;
  retrieveInstance(options: { studyInstanceUID: string; seriesInstanceUID: string; sopInstanceUID: string }): Promise<ArrayBuffer | ArrayBuffer[]>;
  retrieveSeries(options: { studyInstanceUID: string; seriesInstanceUID: string }): Promise<ArrayBuffer[]>;
  retrieveStudy(options: { studyInstanceUID: string }): Promise<ArrayBuffer[]>;
  retrieveSeriesMetadata(options: { studyInstanceUID: string; seriesInstanceUID: string }): Promise<DicomJsonDataset[]>;
  storeInstances(options: { datasets: ArrayBuffer[]; studyInstanceUID?: string }): Promise<unknown>;
}

interface XhrLike {
  timeout: number;
}

let xhrInstalled = false;

/** Installs the xhr2 XMLHttpRequest polyfill on globalThis (once; a no-op where one exists). */
export function ensureXhr(): void {
  if (xhrInstalled) return;
  const g = globalThis as { XMLHttpRequest?: unknown };
  if (g.XMLHttpRequest === undefined) g.XMLHttpRequest = require('xhr2') as unknown;
  xhrInstalled = true;
}

/** A typed DICOMweb client for one server. */
export class DicomWebClient {
  readonly url: string;
  private readonly client: RawClient;

  constructor(options: DicomWebOptions) {
    if (!/^https?:\/\//u.test(options.url)) throw new TypeError(`DICOMweb URL must start with http:// or https:// (got "${options.url}")`);
    ensureXhr();
    this.url = options.url.replace(/\/+$/u, '');
    const timeoutMs = options.timeoutMs ?? 120_000;
    const { api } = require('dicomweb-client') as { api: { DICOMwebClient: new (options: unknown) => RawClient } };
    this.client = new api.DICOMwebClient({
      url: this.url,
      // The same Basic-auth header as every other request to Orthanc (http.ts), not the library's own.
      headers: basicAuthorization(options.username, options.password),
      singlepart: false,
      verbose: false,
      // xhr2 honours `timeout`: a request that takes longer ends with status 0 (mapped below).
      // dicomweb-client ignores hooks whose arity is not 2, hence the unused `metadata`.
      requestHooks: [
        (xhr: XhrLike, metadata: unknown) => {
          void metadata;
          xhr.timeout = timeoutMs;
          return xhr;
        },
      ],
    });
  }

  /** QIDO-RS: studies matching `query`. */
  searchForStudies(query: QidoQuery = {}): Promise<DicomJsonDataset[]> {
    return this.call('QIDO-RS studies', () => this.client.searchForStudies({ queryParams: query }));
  }

  /** QIDO-RS: series of one study (or of every study when `studyInstanceUID` is undefined). */
  searchForSeries(studyInstanceUID?: string, query: QidoQuery = {}): Promise<DicomJsonDataset[]> {
    return this.call('QIDO-RS series', () =>
      this.client.searchForSeries({ ...(studyInstanceUID !== undefined ? { studyInstanceUID } : {}), queryParams: query }),
    );
  }

  /** QIDO-RS: instances of one series / study. */
  searchForInstances(studyInstanceUID?: string, seriesInstanceUID?: string, query: QidoQuery = {}): Promise<DicomJsonDataset[]> {
    return this.call('QIDO-RS instances', () =>
      this.client.searchForInstances({
        ...(studyInstanceUID !== undefined ? { studyInstanceUID } : {}),
        ...(seriesInstanceUID !== undefined ? { seriesInstanceUID } : {}),
        queryParams: query,
      }),
    );
  }

  /** WADO-RS metadata of every instance of a series (DICOM JSON, bulk data as URIs). */
  retrieveSeriesMetadata(studyInstanceUID: string, seriesInstanceUID: string): Promise<DicomJsonDataset[]> {
    return this.call('WADO-RS series metadata', () => this.client.retrieveSeriesMetadata({ studyInstanceUID, seriesInstanceUID }));
  }

  /**
   * WADO-RS: one instance as Part 10 bytes. No transfer syntax is requested (dicomweb-client throws
   * on `mediaTypes`), so Orthanc's DICOMweb plugin answers Explicit VR Little Endian, decompressing
   * compressed instances when it can (JPEG 2000 and friends need the GDCM plugin).
   */
  async retrieveInstance(studyInstanceUID: string, seriesInstanceUID: string, sopInstanceUID: string): Promise<Uint8Array> {
    const answer = await this.call('WADO-RS instance', () => this.client.retrieveInstance({ studyInstanceUID, seriesInstanceUID, sopInstanceUID }));
    const part = Array.isArray(answer) ? answer[0] : answer;
    if (part === undefined) throw new Error(`WADO-RS instance ${sopInstanceUID} came back empty`);
    return new Uint8Array(part);
  }

  /** WADO-RS: every instance of a series, as Part 10 bytes. */
  async retrieveSeries(studyInstanceUID: string, seriesInstanceUID: string): Promise<Uint8Array[]> {
    const parts = await this.call('WADO-RS series', () => this.client.retrieveSeries({ studyInstanceUID, seriesInstanceUID }));
    return parts.map((p) => new Uint8Array(p));
  }

  /** WADO-RS: every instance of a study, as Part 10 bytes. */
  async retrieveStudy(studyInstanceUID: string): Promise<Uint8Array[]> {
    const parts = await this.call('WADO-RS study', () => this.client.retrieveStudy({ studyInstanceUID }));
    return parts.map((p) => new Uint8Array(p));
  }

  /**
   * STOW-RS: stores Part 10 instances (multipart/related, each part `application/dicom`, which
   * Orthanc requires). Resolves with the server's response (DICOM JSON with ReferencedSOPSequence).
   */
  async storeInstances(instances: readonly Uint8Array[], studyInstanceUID?: string): Promise<unknown> {
    const datasets = instances.map((bytes) => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
    return this.call('STOW-RS', () => this.client.storeInstances({ datasets, ...(studyInstanceUID !== undefined ? { studyInstanceUID } : {}) }));
  }

  private async call<T>(what: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      throw this.mapError(what, error);
    }
  }

  private mapError(what: string, error: unknown): Error {
    const status = (error as { status?: unknown } | null)?.status;
    if (typeof status === 'number') {
      if (status === 0) return new UpstreamUnavailableError(`${what} to ${this.url} failed: server unreachable or timed out`);
      if (status >= 500) return new UpstreamUnavailableError(`${what} to ${this.url} failed with HTTP ${status}`);
      return new OrthancRequestError(`${what} to ${this.url} failed with HTTP ${status}`, status);
    }
    return error instanceof Error ? error : new Error(String(error));
  }
}

/** The first value of a DICOM JSON attribute given by tag (e.g. "0020000D"), or undefined. */
export function jsonValue(dataset: DicomJsonDataset, tag: string): unknown {
  return dataset[tag]?.Value?.[0];
}

/** A string value of a DICOM JSON attribute (UIDs, codes, counts as strings). */
export function jsonString(dataset: DicomJsonDataset, tag: string): string | undefined {
  const value = jsonValue(dataset, tag);
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'object' && 'Alphabetic' in (value as object)) return String((value as { Alphabetic: unknown }).Alphabetic);
  return String(value);
}

/** Common tags for reading QIDO-RS answers. */
export const Tag = {
  StudyInstanceUID: '0020000D',
  SeriesInstanceUID: '0020000E',
  SOPInstanceUID: '00080018',
  SOPClassUID: '00080016',
  Modality: '00080060',
  NumberOfStudyRelatedSeries: '00201206',
  NumberOfStudyRelatedInstances: '00201208',
  NumberOfSeriesRelatedInstances: '00201209',
  PatientID: '00100020',
  InstanceNumber: '00200013',
} as const;
