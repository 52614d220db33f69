/**
 * Basic Orthanc REST API: system info, instance upload, listing and deletion of resources.
 * Transport failures (connection refused, timeouts, 5xx) become UpstreamUnavailableError so the
 * queue retries them; 4xx answers are a plain Error naming the route (our bug or bad input).
 */
import { UpstreamUnavailableError } from '../core/errors.js';

export interface OrthancClientOptions {
  /** Base URL, e.g. http://127.0.0.1:8042 (a trailing slash is ignored). */
  readonly url: string;
  /** Basic-auth credentials, when Orthanc has authentication on. */
  readonly username?: string;
  readonly password?: string;
  /** Per-request timeout. @defaultValue 60000 ms */
  readonly timeoutMs?: number;
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

/** Thrown for a 4xx answer: the request itself was wrong (not retried). */
export class OrthancRequestError extends Error {
  override readonly name = 'OrthancRequestError';
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

/** A small typed client for the Orthanc REST API. */
export class OrthancRestClient {
  readonly url: string;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;

  constructor(options: OrthancClientOptions) {
    if (!/^https?:\/\//u.test(options.url)) throw new TypeError(`Orthanc URL must start with http:// or https:// (got "${options.url}")`);
    this.url = options.url.replace(/\/+$/u, '');
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.headers =
      options.username !== undefined
        ? { Authorization: `Basic ${Buffer.from(`${options.username}:${options.password ?? ''}`).toString('base64')}` }
        : {};
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
  async instanceFile(instanceId: string): Promise<Uint8Array> {
    const res = await this.send('GET', `/instances/${encodeURIComponent(instanceId)}/file`);
    return new Uint8Array(await res.arrayBuffer());
  }

  /** Deletes one resource. */
  async delete(level: OrthancLevel, id: string): Promise<void> {
    await this.request('DELETE', `/${level}/${encodeURIComponent(id)}`);
  }

  /** `GET` any route and parse JSON (for routes this client does not wrap). */
  getJson<T>(path: string): Promise<T> {
    return this.request('GET', path) as Promise<T>;
  }

  /** Sends a request and parses a JSON answer (an empty body gives `undefined`). */
  async request(method: string, path: string, body?: Uint8Array | string, contentType?: string): Promise<unknown> {
    const res = await this.send(method, path, body, contentType);
    const text = await res.text();
    return text.length > 0 ? JSON.parse(text) : undefined;
  }

  /** Sends a request; maps failures to UpstreamUnavailableError (transport, 5xx) or OrthancRequestError (4xx). */
  async send(method: string, path: string, body?: Uint8Array | string, contentType?: string): Promise<Response> {
    const headers: Record<string, string> = { ...this.headers };
    if (contentType !== undefined) headers['Content-Type'] = contentType;
    let res: Response;
    try {
      res = await fetch(`${this.url}${path}`, {
        method,
        headers,
        body: body as ConstructorParameters<typeof Request>[1] extends infer I ? (I extends { body?: infer B } ? B : never) : never,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new UpstreamUnavailableError(`Orthanc at ${this.url} is unreachable (${method} ${routeOf(path)}): ${describe(error)}`);
    }
    if (res.status >= 500) {
      const detail = await safeText(res);
      throw new UpstreamUnavailableError(`Orthanc answered ${res.status} to ${method} ${routeOf(path)}${detail}`);
    }
    if (!res.ok) {
      const detail = await safeText(res);
      throw new OrthancRequestError(`Orthanc answered ${res.status} to ${method} ${routeOf(path)}${detail}`, res.status);
    }
    return res;
  }
}

/** The route without query string (queries may carry patient data). */
function routeOf(path: string): string {
  return path.split('?')[0] ?? path;
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    if (error.name === 'TimeoutError') return 'timed out';
    return cause?.code ?? cause?.message ?? error.message;
  }
  return String(error);
}

async function safeText(res: Response): Promise<string> {
  try {
    const text = (await res.text()).trim();
    // Orthanc's error bodies are JSON with Message/Details; keep them short.
    if (text.length === 0) return '';
    try {
      const parsed = JSON.parse(text) as { Message?: string; Details?: string };
      return `: ${[parsed.Message, parsed.Details].filter(Boolean).join(' - ')}`;
    } catch {
      return `: ${text.slice(0, 200)}`;
    }
  } catch {
    return '';
  }
}
