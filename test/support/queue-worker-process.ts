/**
 * One worker process of test/queue-processes.test.ts: opens the SQLite queue at QUEUE_PATH, waits
 * until START_AT (ms since epoch) so that both processes start claiming together, runs the real
 * Worker until the queue holds nothing queued or running, then prints the ids it ran (JSON) and exits.
 */
import { SqliteJobStore } from '../../src/queue/sqlite-job-store.js';
import { Worker } from '../../src/queue/worker.js';
import { createLogger } from '../../src/service/logger.js';

const path = process.env.QUEUE_PATH;
if (!path) throw new Error('QUEUE_PATH is not set');
const store = new SqliteJobStore(path);
const ran: number[] = [];
const worker = new Worker(
  store,
  async ({ job }) => {
    ran.push(job.id);
    // A little asynchronous work, so that claims of both processes interleave with it.
    await new Promise((done) => setImmediate(done));
    return { state: 'done', outcome: {} };
  },
  { concurrency: 4, leaseMs: 60_000, maxAttempts: 3, pollIntervalMs: 1, backoff: { baseMs: 10, factor: 2, maxMs: 100, jitter: 0 } },
  createLogger('error', { silent: true }),
);
await new Promise((done) => setTimeout(done, Math.max(0, Number(process.env.START_AT) - Date.now())));
worker.start();
for (;;) {
  const counts = await store.countByState();
  if (counts.queued === 0 && counts.running === 0) break;
  await new Promise((done) => setTimeout(done, 5));
}
await worker.stop(1000);
await store.close();
process.stdout.write(JSON.stringify(ran));
