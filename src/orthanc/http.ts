/**
 * The one HTTP transport to Orthanc, under both its REST API and its DICOMweb routes: base URL,
 * the Basic-auth header (built here and nowhere else), a per-request timeout combined with the
 * caller's AbortSignal, and the error mapping every caller relies on:
 * - no answer (connection refused, reset, timed out) or a 5xx: UpstreamUnavailableError, retried;
 * - a 4xx: OrthancRequestError with the status, never retried (the request or the data is wrong);
 * - the caller aborted (the worker stopping): the abort reason as it is, not "Orthanc is down".
 * Messages name the route without its query string (a query may carry patient data).
 */
import { UpstreamUnavailableError } from '../core/errors.js';
import { redactUrlCredentials, splitUrlCredentials } from '../util/redact.js';

/** How to reach one Orthanc. */
export interface OrthancConnection {
  /** Base URL, e.g. http://127.0.0.1:8042 (a trailing slash is ignored). */
  readonly url: string;
  /** Basic-auth credentials, when Orthanc has authentication on. */
  readonly username?: string;
  readonly password?: string;
  /** Per-request timeout. @defaultValue 60000 ms */
  readonly timeoutMs?: number;
}

/** Thrown for a 4xx answer: the request itself was wrong or names what Orthanc lacks (not retried). */
export class OrthancRequestError extends Error {
  override readonly name = 'OrthancRequestError';
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

/** The `Authorization` header for Basic auth, or no header without a user name. */
export function basicAuthorization(username: string | undefined, password?: string): Record<string, string> {
  return username !== undefined ? { Authorization: `Basic ${Buffer.from(`${username}:${password ?? ''}`).toString('base64')}` } : {};
}

export interface OrthancHttpRequest {
  readonly method?: string;
  readonly body?: Uint8Array | string;
  readonly contentType?: string;
  readonly accept?: string;
  /** Cancels the request (and a body still being read through `readBytes`/`readText`). */
  readonly signal?: AbortSignal;
}

/** An answer longer than the caller was told to expect (the resource changed meanwhile): transient. */
export class AnswerTooLargeError extends UpstreamUnavailableError {}

/** An answered request whose status was 2xx; the body is read with the same error mapping. */
export interface OrthancAnswer {
  readonly response: Response;
  bytes(): Promise<Uint8Array>;
  /** The body, refused (AnswerTooLargeError) as soon as it grows past `limit` bytes. */
  bytesAtMost(limit: number): Promise<Uint8Array>;
  text(): Promise<string>;
}

export class OrthancHttp {
  readonly url: string;
  private readonly authorization: Record<string, string>;
  private readonly timeoutMs: number;

  constructor(connection: OrthancConnection) {
    if (!/^https?:\/\//u.test(connection.url)) throw new TypeError(`Orthanc URL must start with http:// or https:// (got "${redactUrlCredentials(connection.url)}")`);
    // Credentials written into the URL become the Basic header; the URL kept (and printed) has none.
    const split = splitUrlCredentials(connection.url);
    this.url = split.url.replace(/\/+$/u, '');
    this.timeoutMs = connection.timeoutMs ?? 60_000;
    this.authorization =
      connection.username === undefined && split.username !== undefined
        ? basicAuthorization(split.username, split.password)
        : basicAuthorization(connection.username, connection.password);
  }

  /** Sends one request to `path` (below the base URL) and maps every failure as the file comment says. */
  async send(path: string, request: OrthancHttpRequest = {}): Promise<OrthancAnswer> {
    const method = request.method ?? 'GET';
    const what = `${method} ${routeOf(path)}`;
    const headers: Record<string, string> = { ...this.authorization };
    if (request.contentType !== undefined) headers['Content-Type'] = request.contentType;
    if (request.accept !== undefined) headers.Accept = request.accept;
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
    let response: Response;
    try {
      response = await fetch(`${this.url}${path}`, { method, headers, body: request.body as NonNullable<Parameters<typeof fetch>[1]>['body'], signal });
    } catch (error) {
      throw this.transportError(what, error, request.signal);
    }
    if (response.status >= 500) throw new UpstreamUnavailableError(`Orthanc answered ${response.status} to ${what}${await errorDetail(response)}`);
    if (!response.ok) throw new OrthancRequestError(`Orthanc answered ${response.status} to ${what}${await errorDetail(response)}`, response.status);
    const read = async <T>(body: () => Promise<T>): Promise<T> => {
      try {
        return await body();
      } catch (error) {
        throw this.transportError(what, error, request.signal);
      }
    };
    return {
      response,
      bytes: () => read(async () => new Uint8Array(await response.arrayBuffer())),
      bytesAtMost: (limit) =>
        read(async () => {
          // Read as a stream and stop once past `limit`, so an answer larger than announced is not held.
          if (response.body === null) return new Uint8Array(0);
          const chunks: Uint8Array[] = [];
          let total = 0;
          const reader = response.body.getReader();
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            total += value.byteLength;
            if (total > limit) {
              await reader.cancel();
              throw new AnswerTooLargeError(`Orthanc's answer to ${what} is larger than the ${limit} bytes expected`);
            }
            chunks.push(value);
          }
          // The joined Buffer is the answer (a Uint8Array): wrapping it in a new Uint8Array would copy
          // the whole retrieval once more.
          return Buffer.concat(chunks, total);
        }),
      text: () => read(() => response.text()),
    };
  }

  /**
   * A GET whose answer is handed back as it comes, whatever its status, for a caller that streams it
   * on (the viewer's DICOMweb proxy). The timeout covers the wait for the headers only, so a large
   * body is never cut short; `signal` cancels the request and the body. Only a missing answer throws
   * (UpstreamUnavailableError).
   */
  async relay(path: string, request: { readonly headers?: Record<string, string>; readonly signal?: AbortSignal } = {}): Promise<Response> {
    const what = `GET ${routeOf(path)}`;
    const headersTimeout = new AbortController();
    const timer = setTimeout(() => headersTimeout.abort(new DOMException('timed out', 'TimeoutError')), this.timeoutMs);
    const signal = request.signal ? AbortSignal.any([request.signal, headersTimeout.signal]) : headersTimeout.signal;
    try {
      return await fetch(`${this.url}${path}`, { method: 'GET', headers: { ...request.headers, ...this.authorization }, signal });
    } catch (error) {
      throw this.transportError(what, headersTimeout.signal.aborted ? headersTimeout.signal.reason : error, request.signal);
    } finally {
      clearTimeout(timer);
    }
  }

  private transportError(what: string, error: unknown, callerSignal: AbortSignal | undefined): unknown {
    if (callerSignal?.aborted) return callerSignal.reason ?? error;
    if (error instanceof AnswerTooLargeError) return error;
    return new UpstreamUnavailableError(`Orthanc at ${this.url} is unreachable (${what}): ${describe(error)}`);
  }
}

/** The route without query string (queries may carry patient data). */
function routeOf(path: string): string {
  return path.split('?')[0] ?? path;
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    if (error.name === 'TimeoutError') return 'timed out';
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return cause?.code ?? cause?.message ?? error.message;
  }
  return String(error);
}

/** Orthanc's error bodies are JSON with Message/Details; keep them short. */
async function errorDetail(res: Response): Promise<string> {
  try {
    const text = (await res.text()).trim();
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
