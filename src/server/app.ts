/**
 * The service's HTTP face (express): the Lua webhook, health, metrics, the jobs API, reprocessing
 * and the dashboard. Answers carry job ids, study UIDs and states only, never patient data.
 */
import express, { type Request, type Response, type NextFunction } from 'express';
import { timingSafeEqual } from 'node:crypto';
import { JOB_STATES, type JobState, type JobStore } from '../queue/job-store.js';
import { isTransient } from '../core/errors.js';
import type { Discovery } from '../service/discovery.js';
import type { Logger } from '../core/logger.js';
import type { ServiceMetrics } from './metrics.js';
import { renderDashboard } from './dashboard.js';

export interface AppDependencies {
  readonly store: JobStore;
  readonly discovery: Discovery;
  readonly metrics: ServiceMetrics;
  readonly logger: Logger;
  readonly modelKey: string;
  /** Shared secret of the webhook; the webhook answers 404 when unset. */
  readonly webhookSecret?: string;
  /** Called after a job is queued from the API (wakes the worker). */
  readonly onQueued: () => void;
  /** Extra health facts (Orthanc reachable, worker busy). */
  readonly health: () => Promise<{ ok: boolean } & Record<string, unknown>>;
}

const UID = /^[0-9.]{1,64}$/;

function secretMatches(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function createApp(deps: AppDependencies): express.Express {
  const { store, logger } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '64kb' }));

  app.post('/webhook/stable-study', async (req: Request, res: Response) => {
    if (deps.webhookSecret === undefined) return void res.status(404).json({ error: 'webhook disabled: no shared secret configured' });
    if (!secretMatches(req.get('X-Pulse-Secret'), deps.webhookSecret)) return void res.status(401).json({ error: 'wrong or missing X-Pulse-Secret' });
    const body = (req.body ?? {}) as { orthancStudyId?: unknown; studyInstanceUID?: unknown; lastUpdate?: unknown };
    const id = body.orthancStudyId;
    const uid = body.studyInstanceUID;
    if (typeof id !== 'string' || !/^[0-9a-f-]{8,64}$/i.test(id) || typeof uid !== 'string' || !UID.test(uid)) {
      return void res.status(400).json({ error: 'body must be {"orthancStudyId": "<Orthanc study id>", "studyInstanceUID": "<UID>", "lastUpdate": "<optional>"}' });
    }
    const lastUpdate = typeof body.lastUpdate === 'string' && body.lastUpdate !== '' ? body.lastUpdate : undefined;
    try {
      const result = await deps.discovery.studyStable(id, 'webhook', { studyInstanceUID: uid, lastUpdate });
      if (result === undefined) return void res.status(404).json({ error: 'Orthanc does not hold this study' });
      res.status(202).json({ jobId: result.job.id, created: result.created, state: result.job.state });
    } catch (error) {
      // The changes feed will still see the study: the webhook is the fast path, not the only one.
      logger.warn('webhook could not queue a study', { orthancStudyId: id, error: (error as Error).message });
      res.status(isTransient(error) ? 503 : 500).json({ error: 'could not queue the study' });
    }
  });

  app.get('/health', async (_req, res) => {
    const facts = await deps.health();
    res.status(facts.ok ? 200 : 503).json({ ...facts, model: deps.modelKey, jobs: store.countByState() });
  });

  app.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });

  app.get('/api/jobs', (req, res) => {
    const state = typeof req.query.state === 'string' ? req.query.state : undefined;
    if (state !== undefined && !JOB_STATES.includes(state as JobState)) return void res.status(400).json({ error: `state must be one of ${JOB_STATES.join(', ')}` });
    const limit = typeof req.query.limit === 'string' ? Number.parseInt(req.query.limit, 10) : 100;
    res.json({ jobs: store.list({ state: state as JobState | undefined, limit: Number.isFinite(limit) ? limit : 100 }) });
  });

  app.get('/api/jobs/:id', (req, res) => {
    const id = Number.parseInt(String(req.params.id), 10);
    const job = Number.isFinite(id) ? store.get(id) : undefined;
    if (!job) return void res.status(404).json({ error: 'no such job' });
    res.json(job);
  });

  app.post('/api/studies/:uid/reprocess', (req, res) => {
    const uid = String(req.params.uid);
    if (!UID.test(uid)) return void res.status(400).json({ error: 'not a Study Instance UID' });
    const result = store.enqueue({ studyInstanceUID: uid, modelKey: deps.modelKey, source: 'api', force: true });
    logger.info('reprocessing asked', { jobId: result.job.id, studyInstanceUID: uid });
    deps.onQueued();
    res.status(202).json({ jobId: result.job.id, state: result.job.state });
  });

  app.get('/', (_req, res) => {
    res.type('html').send(renderDashboard(store.list({ limit: 100 }), store.countByState()));
  });

  app.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(error);
    const status = (error as { status?: number }).status ?? 500;
    if (status >= 500) logger.error('HTTP handler error', { error: (error as Error).message, stack: (error as Error).stack });
    res.status(status).json({ error: status >= 500 ? 'internal error' : (error as Error).message });
  });
  return app;
}
