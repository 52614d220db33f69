/**
 * The changes-feed path of discovery: a persisted cursor over Orthanc's /changes. The cursor moves
 * only after every StableStudy of a page is queued, so nothing is missed while the service is down
 * or Orthanc is unreachable; at worst a study is announced twice (enqueue is idempotent).
 */
import { randomUUID } from 'node:crypto';
import type { OrthancRestClient } from '../orthanc/rest-client.js';
import { lastChangeSeq, readChanges, stableStudyIds } from '../orthanc/changes.js';
import type { JobStore } from '../queue/job-store.js';
import type { Discovery } from './discovery.js';
import type { Logger } from '../core/logger.js';
import { WakeableSleep } from '../util/wakeable-sleep.js';

export interface ChangesListenerOptions {
  readonly pollIntervalMs: number;
  readonly batchSize: number;
  readonly startFrom: 'beginning' | 'now';
  /** Name of this process among the replicas sharing the job store (the singleton's owner). */
  readonly owner?: string;
}

export class ChangesListener {
  private readonly cursorKey: string;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private readonly pause = new WakeableSleep();
  private unreachableSince: number | undefined;
  private readonly owner: string;
  private leading = false;

  constructor(
    private readonly client: OrthancRestClient,
    private readonly store: JobStore,
    private readonly discovery: Discovery,
    private readonly options: ChangesListenerOptions,
    private readonly logger: Logger,
  ) {
    // One cursor per Orthanc: pointing the service at another Orthanc does not reuse a foreign position.
    this.cursorKey = `changes.cursor ${client.url}`;
    this.owner = options.owner ?? `listener:${process.pid}:${randomUUID().slice(0, 8)}`;
  }

  /** Whether this replica reads the feed now: only one of those sharing the job store does. */
  get isLeader(): boolean {
    return this.leading;
  }

  /** One changes listener per Orthanc among all replicas sharing the job store. */
  private get singleton(): string {
    return `changes-listener ${this.client.url}`;
  }

  /** The last change sequence number fully handled, when any. */
  async cursor(): Promise<number | undefined> {
    const text = await this.store.getValue(this.cursorKey);
    return text === undefined ? undefined : Number(text);
  }

  start(): void {
    if (this.loop) return;
    this.stopping = false;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.pause.wakeUp();
    await this.loop;
    this.loop = undefined;
    if (this.leading) await this.store.releaseSingleton(this.singleton, this.owner).catch(() => undefined);
    this.leading = false;
  }

  /** Reads the feed until it is drained; returns the number of StableStudy changes handled. */
  async drain(): Promise<number> {
    let cursor = await this.cursor();
    if (cursor === undefined) {
      cursor = this.options.startFrom === 'now' ? await lastChangeSeq(this.client) : 0;
      await this.store.setValue(this.cursorKey, String(cursor));
    }
    let handled = 0;
    for (;;) {
      const page = await readChanges(this.client, cursor, this.options.batchSize);
      if (page.Changes.length === 0 && page.Last < cursor) {
        // Orthanc's index was replaced (its sequence restarted): read the new one from the start.
        this.logger.warn('Orthanc changes sequence went back; reading its feed from the start', { cursor, last: page.Last });
        cursor = 0;
        await this.store.setValue(this.cursorKey, '0');
        continue;
      }
      for (const id of stableStudyIds(page.Changes)) {
        await this.discovery.studyStable(id, 'changes');
        handled++;
      }
      const last = page.Changes.length > 0 ? page.Changes[page.Changes.length - 1]!.Seq : page.Last;
      if (last > cursor) {
        cursor = last;
        await this.store.setValue(this.cursorKey, String(cursor));
      }
      if (page.Done || page.Changes.length === 0 || this.stopping) return handled;
    }
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      try {
        // Held for a few poll intervals and renewed every round: a replica that dies hands over soon.
        const leading = await this.store.holdSingleton(this.singleton, this.owner, Math.max(10_000, this.options.pollIntervalMs * 5));
        if (leading !== this.leading) this.logger.info(leading ? 'this replica reads the changes feed' : 'another replica reads the changes feed');
        this.leading = leading;
        if (leading) await this.drain();
        if (this.unreachableSince !== undefined) {
          this.logger.info('Orthanc changes feed reachable again', { downMs: Date.now() - this.unreachableSince });
          this.unreachableSince = undefined;
        }
      } catch (error) {
        // Orthanc down or answering badly: the cursor has not moved; try again after the interval.
        if (this.unreachableSince === undefined) {
          this.unreachableSince = Date.now();
          this.logger.warn('cannot read Orthanc changes feed; will keep trying', { error: (error as Error).message });
        }
      }
      if (this.stopping) break;
      await this.pause.sleep(this.options.pollIntervalMs);
    }
  }
}
