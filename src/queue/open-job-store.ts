/**
 * The job store the configuration names: SQLite under the data folder (the embedded default) or the
 * shared PostgreSQL database of several replicas (`queue.backend: postgres`).
 */
import { join } from 'node:path';
import type { ServiceConfig } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import type { JobStore } from './job-store.js';
import { PostgresJobStore } from './postgres-job-store.js';
import { SqliteJobStore } from './sqlite-job-store.js';
import { deferredJobStore } from './deferred-job-store.js';

export function openJobStore(config: Pick<ServiceConfig, 'dataDir' | 'queue'>, logger?: Logger): JobStore {
  const { queue } = config;
  if (queue.backend === 'postgres') {
    if (queue.postgres.url === undefined) throw new Error("queue.backend 'postgres' needs queue.postgres.url");
    return new PostgresJobStore({ url: queue.postgres.url, schema: queue.postgres.schema, poolSize: queue.postgres.poolSize, ...(logger ? { logger } : {}) });
  }
  // Opened on first use and again until it opens: a read-only or full data folder at start does not
  // end the service (readiness says why until it can be written).
  return deferredJobStore(() => new SqliteJobStore(join(config.dataDir, 'queue.sqlite')));
}

/** Where the queue lives, for logs and `pulse serve`'s first line: never the password. */
export function describeJobStore(config: Pick<ServiceConfig, 'dataDir' | 'queue'>): string {
  if (config.queue.backend === 'postgres') {
    const url = config.queue.postgres.url;
    let where = 'PostgreSQL';
    try {
      if (url !== undefined) {
        const parsed = new URL(url);
        where = `PostgreSQL ${parsed.hostname}${parsed.port ? `:${parsed.port}` : ''}${parsed.pathname}`;
      }
    } catch {
      // An unparsable URL is reported by the driver when it connects.
    }
    return `${where} (schema ${config.queue.postgres.schema})`;
  }
  return `SQLite ${join(config.dataDir, 'queue.sqlite')}`;
}
