/**
 * FHIR notifications the receiver did not take (an outage longer than the notifier's retries, a
 * wrong secret fixed later), kept under the data folder and sent again on a schedule until delivered
 * or too old. One file per report, named by the Bundle's id: the Bundle PUTs resources under
 * deterministic ids, so a resend updates rather than duplicates, a newer report of the same study
 * and model replaces the waiting one, and a later direct delivery settles it. Files are written
 * aside and renamed; an expired or unreadable one moves to failed/ for an administrator.
 * Nothing here logs the Bundle: logs carry the job id, status and attempts.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../core/logger.js';
import type { FhirDelivery } from './fhir-notifier.js';

export interface OutboxEntry {
  readonly jobId: number;
  readonly bundle: { readonly id: string } & Record<string, unknown>;
  /** When the first delivery failed (ISO 8601). */
  readonly firstFailedAt: string;
  /** Attempts so far, the notifier's first ones included. */
  readonly attempts: number;
  /** Why the last attempt did not deliver (status or error kind). */
  readonly lastReason: string;
}

export interface RedeliveryCount {
  readonly delivered: number;
  readonly waiting: number;
  /** Older than the keep time: moved to failed/. */
  readonly expired: number;
  /** Not an entry (corrupt, half-written by another tool): moved to failed/. */
  readonly unreadable: number;
}


/** Bundle ids are `pulse-` plus digits (src/fhir): anything else never becomes a file name. */
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9.-]{0,63}$/u;

export class FhirOutbox {
  readonly failedDir: string;
  private sweeping: Promise<RedeliveryCount> | undefined;

  constructor(
    readonly dir: string,
    private readonly keepMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.failedDir = join(dir, 'failed');
  }

  /** Keeps an undelivered Bundle (replacing a waiting one with the same id). */
  add(jobId: number, bundle: unknown, delivery: FhirDelivery): void {
    const id = bundleId(bundle);
    const previous = this.read(id);
    const entry: OutboxEntry = {
      jobId,
      bundle: bundle as OutboxEntry['bundle'],
      firstFailedAt: previous?.firstFailedAt ?? new Date(this.now()).toISOString(),
      attempts: (previous?.attempts ?? 0) + delivery.attempts,
      lastReason: delivery.reason ?? 'not delivered',
    };
    this.write(id, entry);
  }

  /** A Bundle was delivered directly: nothing of it waits any more (an older copy must not overwrite it later). */
  settle(bundle: unknown): void {
    rmSync(this.path(bundleId(bundle)), { force: true });
  }

  /** Entries waiting. */
  pending(): number {
    return this.ids().length;
  }

  /**
   * One pass over the waiting entries, oldest job first (a newer report of a study replaces its entry
   * anyway): each is sent once with `send`; delivered ones go, expired and unreadable ones move to
   * failed/. Calls while a pass runs share it.
   */
  redeliver(send: (bundle: unknown) => Promise<FhirDelivery>, logger: Logger): Promise<RedeliveryCount> {
    this.sweeping ??= this.pass(send, logger).finally(() => {
      this.sweeping = undefined;
    });
    return this.sweeping;
  }

  private async pass(send: (bundle: unknown) => Promise<FhirDelivery>, logger: Logger): Promise<RedeliveryCount> {
    let delivered = 0;
    let waiting = 0;
    let expired = 0;
    let unreadable = 0;
    const entries: Array<{ id: string; entry: OutboxEntry }> = [];
    for (const id of this.ids()) {
      const entry = this.read(id);
      if (entry) entries.push({ id, entry });
      else if (this.exists(id)) {
        this.moveToFailed(id);
        unreadable++;
        logger.warn('FHIR outbox entry unreadable, moved to failed/', { file: `${id}.json` });
      }
    }
    entries.sort((a, b) => a.entry.jobId - b.entry.jobId);
    for (const { id, entry } of entries) {
      const age = this.now() - Date.parse(entry.firstFailedAt);
      if (!(age <= this.keepMs)) {
        this.moveToFailed(id);
        expired++;
        logger.warn('FHIR DiagnosticReport given up: undelivered for longer than fhir.keepUndeliveredHours, moved to failed/', { jobId: entry.jobId, attempts: entry.attempts, reason: entry.lastReason });
        continue;
      }
      const result = await send(entry.bundle);
      if (!result.delivered && result.reason === 'aborted') {
        // The service is stopping: this entry and the rest wait as they are for the next run.
        waiting += entries.length - delivered - waiting - expired;
        break;
      }
      // The entry may have been replaced (a newer report) or settled while the POST was out.
      const current = this.read(id);
      if (result.delivered) {
        if (current?.jobId === entry.jobId) rmSync(this.path(id), { force: true });
        delivered++;
        logger.info('FHIR DiagnosticReport delivered from the outbox', { jobId: entry.jobId, attempts: entry.attempts + result.attempts, status: result.status });
      } else {
        if (current?.jobId === entry.jobId) this.write(id, { ...entry, attempts: entry.attempts + result.attempts, lastReason: result.reason ?? 'not delivered' });
        waiting++;
      }
    }
    return { delivered, waiting, expired, unreadable };
  }

  private ids(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    return names.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -'.json'.length)).filter((id) => SAFE_ID.test(id));
  }

  private path(id: string): string {
    return join(this.dir, `${id}.json`);
  }

  private exists(id: string): boolean {
    return existsSync(this.path(id));
  }

  private read(id: string): OutboxEntry | undefined {
    let text: string;
    try {
      text = readFileSync(this.path(id), 'utf8');
    } catch {
      return undefined;
    }
    try {
      const entry = JSON.parse(text) as Partial<OutboxEntry>;
      const valid = Number.isSafeInteger(entry.jobId) && typeof entry.bundle === 'object' && entry.bundle !== null && entry.bundle.id === id && typeof entry.firstFailedAt === 'string' && Number.isFinite(Date.parse(entry.firstFailedAt)) && typeof entry.attempts === 'number';
      return valid ? (entry as OutboxEntry) : undefined;
    } catch {
      return undefined;
    }
  }

  private write(id: string, entry: OutboxEntry): void {
    mkdirSync(this.dir, { recursive: true });
    const tmp = join(this.dir, `.${id}.${process.pid}.tmp`);
    writeFileSync(tmp, JSON.stringify(entry));
    renameSync(tmp, this.path(id));
  }

  private moveToFailed(id: string): void {
    mkdirSync(this.failedDir, { recursive: true });
    renameSync(this.path(id), join(this.failedDir, `${id}.json`));
  }
}

function bundleId(bundle: unknown): string {
  const id = (bundle as { id?: unknown } | null)?.id;
  if (typeof id !== 'string' || !SAFE_ID.test(id)) throw new TypeError('FHIR outbox: the Bundle has no id usable as a file name');
  return id;
}
