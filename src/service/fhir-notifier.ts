/**
 * The outbound notification per finished study: POST the FHIR R4 Bundle (src/fhir) to the configured
 * URL, with its own secret (`Authorization: Bearer`, never the webhook's), a timeout per attempt and
 * retries with exponential backoff and jitter on what may pass (network errors, timeouts, 429, 5xx).
 * Any other answer (400, 401, 404, 422...) is final: retrying cannot fix it. The outcome is returned,
 * never thrown: the study's results are already in Orthanc, and a RIS that is down must not turn a
 * finished study into a failed job. Logs carry the status and attempt, never the body.
 */
import type { ServiceConfig } from '../config/schema.js';
import { backoffDelayMs } from '../queue/backoff.js';

export interface FhirNotifierOptions {
  readonly url: string;
  readonly secret?: string;
  /** @defaultValue 5 */
  readonly attempts?: number;
  /** @defaultValue 1000 */
  readonly backoffBaseMs?: number;
  /** @defaultValue 10000 */
  readonly timeoutMs?: number;
  /** Waits between attempts (tests pass a fast one). @defaultValue setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly signal?: AbortSignal;
}

export interface FhirDelivery {
  readonly delivered: boolean;
  readonly attempts: number;
  /** HTTP status of the last answer, when there was one. */
  readonly status?: number;
  /** Why it was not delivered (status or error kind; no body, no patient data). */
  readonly reason?: string;
}

/** The notifier's options from the service's `fhir` settings (with `url` set), `overrides` on top (a pass of the outbox: one attempt). */
export function fhirNotifierOptions(fhir: ServiceConfig['fhir'] & { url: string }, overrides: Pick<FhirNotifierOptions, 'attempts' | 'signal'> = {}): FhirNotifierOptions {
  return {
    url: fhir.url,
    ...(fhir.secret !== undefined ? { secret: fhir.secret } : {}),
    attempts: fhir.attempts,
    backoffBaseMs: fhir.backoffBaseMs,
    timeoutMs: fhir.timeoutMs,
    ...overrides,
  };
}

const retryable = (status: number): boolean => status === 429 || status >= 500;

export async function postFhirBundle(bundle: unknown, options: FhirNotifierOptions): Promise<FhirDelivery> {
  const attempts = options.attempts ?? 5;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const body = JSON.stringify(bundle);
  let last: FhirDelivery = { delivered: false, attempts: 0, reason: 'not attempted' };
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (options.signal?.aborted) return { ...last, attempts: attempt - 1, reason: 'aborted' };
    const timeout = AbortSignal.timeout(options.timeoutMs ?? 10_000);
    try {
      const response = await fetch(options.url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/fhir+json',
          Accept: 'application/fhir+json',
          ...(options.secret ? { Authorization: `Bearer ${options.secret}` } : {}),
        },
        body,
        signal: options.signal ? AbortSignal.any([options.signal, timeout]) : timeout,
      });
      await response.arrayBuffer().catch(() => undefined);
      if (response.ok) return { delivered: true, attempts: attempt, status: response.status };
      last = { delivered: false, attempts: attempt, status: response.status, reason: `HTTP ${response.status}` };
      if (!retryable(response.status)) return last;
    } catch (error) {
      const name = (error as Error).name;
      last = { delivered: false, attempts: attempt, reason: name === 'TimeoutError' ? 'timed out' : name === 'AbortError' ? 'aborted' : `no answer (${(error as Error).message})` };
      if (name === 'AbortError') return last;
    }
    if (attempt < attempts) await sleep(backoffDelayMs(attempt, { baseMs: options.backoffBaseMs ?? 1000, factor: 2, maxMs: 60_000, jitter: 0.5 }));
  }
  return last;
}
