/**
 * The job store backends the contract tests run on: the same test, once on SQLite (a file in a
 * temporary folder) and once on PostgreSQL (a real server for the test file, a fresh schema per
 * store), so both backends keep one behaviour.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobStore } from '../../src/queue/job-store.js';
import { PostgresJobStore } from '../../src/queue/postgres-job-store.js';
import { SqliteJobStore } from '../../src/queue/sqlite-job-store.js';
import { startTestPostgres, type TestPostgres } from './postgres.js';

export interface OpenedStore {
  readonly store: JobStore;
  /** A second store over the same data (a restart, or another process). */
  reopen(): JobStore;
  /** Closes the store and removes its data. */
  dispose(): Promise<void>;
}

export interface StoreBackend {
  readonly name: 'sqlite' | 'postgres';
  /** Starts what the backend needs (a before hook of the test file). */
  setUp(): Promise<void>;
  tearDown(): Promise<void>;
  /** A fresh, empty store. */
  open(): Promise<OpenedStore>;
}

function sqliteBackend(): StoreBackend {
  return {
    name: 'sqlite',
    async setUp() {},
    async tearDown() {},
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'pulse-queue-'));
      const path = join(dir, 'queue.sqlite');
      const store = new SqliteJobStore(path);
      return {
        store,
        reopen: () => new SqliteJobStore(path),
        async dispose() {
          await store.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  };
}

function postgresBackend(): StoreBackend {
  let server: TestPostgres | undefined;
  let schemas = 0;
  return {
    name: 'postgres',
    async setUp() {
      server = await startTestPostgres();
    },
    async tearDown() {
      await server?.stop();
    },
    async open() {
      if (server === undefined) throw new Error('PostgreSQL not started: call setUp() in a before hook');
      const url = server.url;
      const schema = `test_${process.pid}_${++schemas}`;
      const store = new PostgresJobStore({ url, schema });
      return {
        store,
        reopen: () => new PostgresJobStore({ url, schema }),
        async dispose() {
          await store.close();
        },
      };
    },
  };
}

export function jobStoreBackends(): StoreBackend[] {
  return [sqliteBackend(), postgresBackend()];
}
