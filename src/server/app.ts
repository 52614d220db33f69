/**
 * The service's HTTP face (express): probes, the Lua webhook, the jobs API, reprocessing, metrics,
 * the OpenAPI document and the dashboard. Locked down by default: helmet headers, body size limits,
 * rate limits, zod on every parameter and body, bearer tokens with viewer and admin roles, and
 * state-changing requests only with a token and a JSON body (no CSRF through simple cross-site
 * requests). Answers carry job ids, study UIDs and results only, never patient data or stack traces.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { rateLimit, type RateLimitRequestHandler } from 'express-rate-limit';
import helmet from 'helmet';
import { timingSafeEqual, createHash } from 'node:crypto';
import type { ServiceConfig } from '../config/schema.js';
import { JobPriority, type JobState, type JobStore } from '../queue/job-store.js';
import type { Discovery } from '../service/discovery.js';
import type { Logger } from '../core/logger.js';
import { isTransient } from '../core/errors.js';
import { allows, createAuthenticator, CSRF_HEADER, SESSION_COOKIE, type Authenticator, type Credentials } from './auth.js';
import { renderDashboard, renderLoginPage, renderStudyPage, type PageContext } from './dashboard.js';
import { DASHBOARD_SCRIPT } from './dashboard-script.js';
import type { ResultArchive } from '../service/result-archive.js';
import type { ServiceMetrics } from './metrics.js';
import { adminRoute, changesState, describeIssues, openApiDocument, route, viewerRoute, type RouteSpec } from './route.js';
import { createDicomWebProxy, type DicomWebProxyOptions } from './dicomweb-proxy.js';
import { createOhifHandler, OHIF_BASE, ohifStudyLink } from './ohif.js';
import type { CalibrationVersion } from './calibration-history.js';
import { EmptyBody, JobListQuery, JobParams, ReprocessBody, SessionBody, StudyParams, ThumbnailParams, WebhookBody } from './schemas.js';

/** One readiness check: fine, or why not. */
export interface ReadinessCheck {
  readonly ok: boolean;
  readonly reason?: string;
}

export interface AppDependencies {
  readonly store: JobStore;
  readonly discovery: Discovery;
  readonly metrics: ServiceMetrics;
  readonly logger: Logger;
  readonly modelKey: string;
  /** The queue key of a new job (model and calibrations in force); `modelKey` when not given. */
  readonly jobModelKey?: () => string;
  /** Authentication, rate limits, the webhook's secret, the reprocessing bound. */
  readonly server: Pick<ServiceConfig['server'], 'webhookSecret' | 'auth' | 'rateLimit' | 'maxQueuedReprocess'>;
  /** Called after a job is queued from the API (wakes the worker). */
  readonly onQueued: () => void;
  /** Orthanc's id of the study with this Study Instance UID, undefined when Orthanc does not hold it. */
  readonly findStudy: (studyInstanceUID: string) => Promise<string | undefined>;
  /** Readiness: Orthanc reachable, model loaded, queue writable (and whatever else the service adds). */
  readonly readiness: () => Promise<Record<string, ReadinessCheck>>;
  /** Facts for /health (Orthanc's version, whether the worker is busy). */
  readonly health: () => Promise<{ ok: boolean } & Record<string, unknown>>;
  /** More routes (calibrations, results): one entry each, mounted and documented like the rest. */
  readonly extraRoutes?: readonly RouteSpec[];
  readonly version?: string;
  /** The dashboard's copy of each finished job's result (curves, thumbnails). */
  readonly archive?: ResultArchive;
  /** Viewer link template; `{StudyInstanceUID}` is replaced (server.viewerUrl). */
  readonly viewerUrl?: string;
  /** Every stored calibration with its status, for the dashboard's history (newest first or any order). */
  readonly calibrations?: () => readonly CalibrationVersion[];
  /** The embedded OHIF viewer and its read-only DICOMweb proxy (viewer.ohif), when served. */
  readonly viewer?: EmbeddedViewer;
}

export interface EmbeddedViewer {
  /** OHIF's prebuilt dist/ folder. */
  readonly ohifDist: string;
  /** Where the proxy answers on the service: the same path as Orthanc's DICOMweb root (/dicom-web). */
  readonly dicomWebPath: string;
  /** One GET to Orthanc's DICOMweb, credentials added (OrthancRestClient.dicomWebRelay). */
  readonly relay: DicomWebProxyOptions['relay'];
  /** Requests per address and window on the viewer and the proxy. */
  readonly rateLimit: number;
}

/** Largest JSON body accepted; every body we take is a few fields. */
export const BODY_LIMIT = '16kb';

/** An HTTP error with a message safe to show the client. */
export class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

function secretMatches(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  // Digests have equal length, so neither the content nor the length of the secret leaks by timing.
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The routes of the service, in the order they are documented. */
function coreRoutes(deps: AppDependencies, auth: Authenticator, document: () => Record<string, unknown>): RouteSpec[] {
  const { store, logger } = deps;
  const pageContext = (credentials: Credentials | undefined): PageContext => ({
    role: credentials?.role,
    signedIn: auth.enabled,
    ...(credentials?.via === 'cookie' && credentials.token ? { csrfToken: auth.csrfFor(credentials.token) } : {}),
  });
  /** The newest job of a study that finished with a result kept for the dashboard. */
  const archivedJob = async (uid: string) => {
    for (const job of (await store.findByStudy(uid)).reverse()) {
      if (job.state !== 'done' || !deps.archive) continue;
      const study = deps.archive.load(job.id);
      if (study) return { jobId: job.id, study };
    }
    return undefined;
  };

  const queueFromApi = async (studyInstanceUID: string, what: string): Promise<{ jobId: number; state: JobState; created: boolean }> => {
    // Bounded: requests that wait beyond this are refused, so a flood cannot fill the queue.
    const waiting = (await store.list({ state: 'queued', source: 'api', limit: deps.server.maxQueuedReprocess + 1 })).length;
    if (waiting >= deps.server.maxQueuedReprocess) {
      throw new HttpError(429, `${waiting} reprocessing requests are already waiting (server.maxQueuedReprocess); try again later`, { 'Retry-After': '60' });
    }
    let orthancStudyId: string | undefined;
    try {
      orthancStudyId = await deps.findStudy(studyInstanceUID);
    } catch (error) {
      if (isTransient(error)) throw new HttpError(503, 'Orthanc is unreachable; try again later');
      throw error;
    }
    // Refused before any row exists: made-up UIDs leave nothing behind.
    if (orthancStudyId === undefined) throw new HttpError(404, `Orthanc does not hold study ${studyInstanceUID}`);
    const result = await store.enqueue({ studyInstanceUID, modelKey: deps.jobModelKey?.() ?? deps.modelKey, orthancStudyId, source: 'api', force: true, priority: JobPriority.reprocess });
    logger.info(`${what} asked`, { jobId: result.job.id, studyInstanceUID, created: result.created });
    deps.onQueued();
    return { jobId: result.job.id, state: result.job.state, created: result.created };
  };

  return [
    route({
      method: 'get',
      path: '/healthz',
      access: 'public',
      unlimited: true,
      summary: 'liveness: the process answers',
      responses: { 200: 'alive' },
      handle: ({ res }) => res.json({ status: 'alive' }),
    }),
    route({
      method: 'get',
      path: '/readyz',
      access: 'public',
      unlimited: true,
      summary: 'readiness: Orthanc reachable, model loaded, queue writable (with the reason of each failed check)',
      responses: { 200: 'ready', 503: 'not ready; `checks` says why' },
      handle: async ({ res }) => {
        const checks = await deps.readiness();
        const ready = Object.values(checks).every((c) => c.ok);
        res.status(ready ? 200 : 503).json({ ready, checks });
      },
    }),
    route({
      method: 'get',
      path: '/openapi.json',
      access: 'public',
      summary: 'this document',
      responses: { 200: 'the OpenAPI 3.1 document of the HTTP face' },
      handle: ({ res }) => res.json(document()),
    }),
    route<Record<string, never>, Record<string, never>, { orthancStudyId: string; studyInstanceUID: string; lastUpdate?: string }>({
      method: 'post',
      path: '/webhook/stable-study',
      access: 'webhook',
      summary: "Orthanc's Lua script announces a stable study",
      body: WebhookBody,
      responses: { 202: 'queued, or already known', 404: 'webhook disabled, or Orthanc does not hold the study', 503: 'the queue is unavailable' },
      handle: async ({ body, res }) => {
        try {
          const result = await deps.discovery.studyStable(body.orthancStudyId, 'webhook', {
            studyInstanceUID: body.studyInstanceUID,
            lastUpdate: body.lastUpdate === '' ? undefined : body.lastUpdate,
          });
          if (result === undefined) return void res.status(404).json({ error: 'Orthanc does not hold this study' });
          res.status(202).json({ jobId: result.job.id, created: result.created, state: result.job.state });
        } catch (error) {
          // The changes feed will still see the study: the webhook is the fast path, not the only one.
          logger.warn('webhook could not queue a study', { orthancStudyId: body.orthancStudyId, error: (error as Error).message });
          res.status(isTransient(error) ? 503 : 500).json({ error: 'could not queue the study' });
        }
      },
    }),
    viewerRoute('/health', { summary: 'health details: Orthanc reachable, worker busy, job counts', responses: { 200: 'healthy', 503: 'unhealthy' } }, async ({ res }) => {
      const facts = await deps.health();
      res.status(facts.ok ? 200 : 503).json({ ...facts, model: deps.modelKey, jobs: await store.countByState() });
    }),
    viewerRoute('/metrics', { summary: 'Prometheus metrics', produces: 'text', responses: { 200: 'metrics in the Prometheus text format' } }, async ({ res }) => {
      res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
    }),
    viewerRoute<Record<string, never>, { state?: string; limit?: number }>(
      '/api/jobs',
      { summary: 'recent jobs, newest first', query: JobListQuery, responses: { 200: '{"jobs": [...]}' } },
      async ({ query, res }) => res.json({ jobs: await store.list({ state: query.state as JobState | undefined, limit: query.limit ?? 100 }) }),
    ),
    viewerRoute<{ id: number }>('/api/jobs/:id', { summary: 'one job', params: JobParams, responses: { 200: 'the job', 404: 'no such job' } }, async ({ params, res }) => {
      const job = await store.get(params.id);
      if (!job) throw new HttpError(404, `no job ${params.id}`);
      res.json(job);
    }),
    adminRoute<{ uid: string }, Record<string, never>, { note?: string }>(
      'post',
      '/api/studies/:uid/reprocess',
      {
        summary: 'process a study again for the current model and calibration (after new studies)',
        params: StudyParams,
        body: ReprocessBody,
        responses: { 202: 'queued', 404: 'Orthanc does not hold the study', 429: 'too many requests, or too many reprocessing requests waiting', 503: 'Orthanc unreachable' },
      },
      async ({ params, res }) => {
        res.status(202).json(await queueFromApi(params.uid, 'reprocessing'));
      },
    ),
    adminRoute<{ id: number }, Record<string, never>, Record<string, never>>(
      'post',
      '/api/jobs/:id/retry',
      {
        summary: 'run a failed job again (after new studies)',
        params: JobParams,
        body: EmptyBody,
        responses: { 202: 'queued', 404: 'no such job, or Orthanc no longer holds its study', 409: 'the job has not failed', 503: 'Orthanc unreachable' },
      },
      async ({ params, res }) => {
        const job = await store.get(params.id);
        if (!job) throw new HttpError(404, `no job ${params.id}`);
        if (job.state !== 'failed') throw new HttpError(409, `job ${params.id} is ${job.state}, not failed`);
        res.status(202).json(await queueFromApi(job.studyInstanceUID, 'retry'));
      },
    ),
    viewerRoute('/', { summary: 'the dashboard: queue counts, recent jobs and the calibration history', produces: 'html', responses: { 200: 'HTML' } }, async ({ res, credentials }) => {
      res.type('html').send(renderDashboard(await store.list({ limit: 100 }), await store.countByState(), pageContext(credentials), deps.calibrations?.() ?? []));
    }),
    viewerRoute<{ uid: string }>(
      '/studies/:uid',
      { summary: "one study's page: key numbers, diagnosis, QC, thumbnails, volume curve, viewer link", params: StudyParams, produces: 'html', responses: { 200: 'HTML', 404: 'no job for this study' } },
      async ({ params, res, credentials }) => {
        const jobs = await store.findByStudy(params.uid);
        if (jobs.length === 0) throw new HttpError(404, `no job for study ${params.uid}`);
        const found = await archivedJob(params.uid);
        const archived = found && { ...found, hasThumbnails: deps.archive?.thumbnail(found.jobId, 'ed') !== undefined };
        const viewerUrl = deps.viewerUrl?.replaceAll('{StudyInstanceUID}', encodeURIComponent(params.uid)) ?? (deps.viewer ? ohifStudyLink(params.uid) : undefined);
        res.type('html').send(renderStudyPage({ studyInstanceUID: params.uid, jobs, ...(archived ? { archived } : {}), ...(viewerUrl ? { viewerUrl } : {}) }, pageContext(credentials)));
      },
    ),
    viewerRoute<{ uid: string; phase: 'ed' | 'es' }>(
      '/studies/:uid/thumbnail/:phase',
      { summary: 'the mid-ventricular slice at ED or ES with contours (PNG)', params: ThumbnailParams, produces: 'png', responses: { 200: 'PNG', 404: 'no thumbnail' } },
      async ({ params, res }) => {
        const found = await archivedJob(params.uid);
        const png = found && deps.archive?.thumbnail(found.jobId, params.phase);
        if (!png) throw new HttpError(404, `no ${params.phase.toUpperCase()} thumbnail for study ${params.uid}`);
        res.type('png').set('Cache-Control', 'private, max-age=60').send(Buffer.from(png));
      },
    ),
    route({
      method: 'get',
      path: '/assets/dashboard.js',
      access: 'public',
      summary: "the dashboard's script (sign-in, admin actions with the CSRF token)",
      produces: 'text',
      responses: { 200: 'JavaScript' },
      handle: ({ res }) => res.type('application/javascript').set('Cache-Control', 'no-cache').send(DASHBOARD_SCRIPT),
    }),
    route<Record<string, never>, Record<string, never>, { token: string }>({
      method: 'post',
      path: '/api/session',
      access: 'public',
      summary: 'sign in to the dashboard with a token: sets an HttpOnly, SameSite=Strict session cookie',
      body: SessionBody,
      responses: { 204: 'signed in', 401: 'not a valid token', 409: 'authentication is off' },
      handle: ({ body, req, res }) => {
        if (!auth.enabled) throw new HttpError(409, 'authentication is off: no sign-in needed');
        if (auth.roleOf(body.token) === undefined) throw new HttpError(401, 'not a valid token');
        res.cookie(SESSION_COOKIE, body.token, { httpOnly: true, sameSite: 'strict', secure: req.secure, path: '/', maxAge: 12 * 3600 * 1000 });
        res.status(204).end();
      },
    }),
    route<Record<string, never>, Record<string, never>, Record<string, never>>({
      method: 'post',
      path: '/api/session/end',
      access: 'viewer',
      summary: 'sign out of the dashboard (clears the session cookie)',
      body: EmptyBody,
      responses: { 204: 'signed out' },
      handle: ({ res }) => {
        res.clearCookie(SESSION_COOKIE, { path: '/' });
        res.status(204).end();
      },
    }),
  ];
}

/** The message a client sees for a failed check; never a stack trace or an internal detail. */
function refuse(res: Response, error: HttpError): void {
  for (const [name, value] of Object.entries(error.headers)) res.set(name, value);
  res.status(error.status).json({ error: error.message });
}

/** Whether the request comes from another origin (a browser says so in Origin). */
function crossOrigin(req: Request): boolean {
  const origin = req.get('Origin');
  if (origin === undefined || origin === 'null') return origin === 'null';
  try {
    return new URL(origin).host !== req.get('Host');
  } catch {
    return true;
  }
}

function authorise(spec: Pick<RouteSpec, 'access'>, req: Request, auth: Authenticator, webhookSecret: string | undefined): Credentials | undefined {
  if (spec.access === 'public') return undefined;
  if (spec.access === 'webhook') {
    if (webhookSecret === undefined) throw new HttpError(404, 'webhook disabled: no shared secret configured');
    if (!secretMatches(req.get('X-Pulse-Secret'), webhookSecret)) throw new HttpError(401, 'wrong or missing X-Pulse-Secret');
    return undefined;
  }
  const credentials = auth.identify(req);
  if (credentials === undefined) {
    throw new HttpError(401, 'a valid token is required: Authorization: Bearer <token>', { 'WWW-Authenticate': 'Bearer realm="pulse"' });
  }
  if (!allows(credentials.role, spec.access)) throw new HttpError(403, `this needs an ${spec.access} token`);
  return credentials;
}

/** The checks every state-changing request passes: JSON body, same origin, and on the cookie a CSRF token. */
function checkStateChange(req: Request, credentials: Credentials | undefined, auth: Authenticator): void {
  if (!req.is('application/json')) throw new HttpError(415, 'the body must be application/json');
  if (crossOrigin(req)) throw new HttpError(403, 'cross-origin requests are refused');
  if (credentials?.via === 'cookie' && !auth.csrfMatches(credentials.token!, req.get(CSRF_HEADER))) {
    throw new HttpError(403, `missing or wrong ${CSRF_HEADER}`);
  }
}

function parse<T>(schema: import('zod').ZodType<T> | undefined, value: unknown, where: string): T {
  if (schema === undefined) return value as T;
  const result = schema.safeParse(value ?? {});
  if (!result.success) throw new HttpError(400, describeIssues(where, result.error));
  return result.data;
}

function limiter(windowMs: number, limit: number, what: string): RateLimitRequestHandler {
  return rateLimit({
    windowMs,
    limit,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    handler: (_req, res) => res.status(429).json({ error: `too many ${what} from this address; try again later` }),
  });
}

export function createApp(deps: AppDependencies): express.Express {
  const { logger } = deps;
  const auth = createAuthenticator(deps.server.auth);
  const app = express();
  app.disable('x-powered-by');
  const dashboardHeaders = helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'", "'unsafe-inline'"],
          imgSrc: ["'self'", 'data:'],
          objectSrc: ["'none'"],
          baseUri: ["'self'"],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
        },
      },
      // Plain http on loopback is the default deployment: do not ask browsers to upgrade it.
      strictTransportSecurity: false,
    });
  // The viewer sets its own, looser policy (ohif.ts) on its own paths only; the other headers stay.
  const viewerHeaders = helmet({ contentSecurityPolicy: false, strictTransportSecurity: false });
  const isViewerPath = (path: string): boolean => deps.viewer !== undefined && (path === OHIF_BASE || path.startsWith(`${OHIF_BASE}/`));
  app.use((req: Request, res: Response, next: NextFunction) => (isViewerPath(req.path) ? viewerHeaders : dashboardHeaders)(req, res, next));
  app.use(express.json({ limit: BODY_LIMIT, type: 'application/json', strict: true }));

  const reads = limiter(deps.server.rateLimit.windowMs, deps.server.rateLimit.reads, 'requests');
  const writes = limiter(deps.server.rateLimit.windowMs, deps.server.rateLimit.writes, 'state-changing requests');
  // The webhook answers Orthanc, which announces studies in bursts: a wide limit that still stops guessing.
  const webhook = limiter(deps.server.rateLimit.windowMs, deps.server.rateLimit.reads * 10, 'webhook calls');

  let documentCache: Record<string, unknown> | undefined;
  const routes: RouteSpec[] = [];
  const document = (): Record<string, unknown> => (documentCache ??= openApiDocument(routes, { title: 'PULSE for Orthanc', version: deps.version ?? '0.1.0' }));
  routes.push(...coreRoutes(deps, auth, document), ...(deps.extraRoutes ?? []));

  for (const spec of routes) {
    const limits = spec.unlimited ? [] : [spec.access === 'webhook' ? webhook : changesState(spec) ? writes : reads];
    app[spec.method](spec.path, ...limits, async (req: Request, res: Response, next: NextFunction) => {
      try {
        const credentials = authorise(spec, req, auth, deps.server.webhookSecret);
        if (changesState(spec) && spec.access !== 'webhook') checkStateChange(req, credentials, auth);
        else if (spec.access === 'webhook' && !req.is('application/json')) throw new HttpError(415, 'the body must be application/json');
        const params = parse(spec.params, req.params, 'path parameter');
        const query = parse(spec.query, req.query, 'query parameter');
        const body = changesState(spec) ? parse(spec.body ?? EmptyBody, req.body, 'body') : undefined;
        await spec.handle({ params, query, body, req, res, credentials });
      } catch (error) {
        // A page (not the API) asked without a token: answer with the sign-in form.
        if (error instanceof HttpError && error.status === 401 && spec.produces === 'html') return void res.status(401).type('html').send(renderLoginPage());
        if (error instanceof HttpError) return refuse(res, error);
        next(error);
      }
    });
  }

  if (deps.viewer) mountViewer(app, deps.viewer, deps.server.rateLimit.windowMs, auth);

  app.use((_req: Request, res: Response) => {
    res.status(404).json({ error: 'no such route (GET /openapi.json lists them)' });
  });
  app.use((error: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(error);
    // body-parser's errors carry a `type` and a status; their messages may quote the body, so we word our own.
    const type = (error as { type?: string }).type;
    if (type === 'entity.too.large') return void res.status(413).json({ error: `the body is larger than ${BODY_LIMIT}` });
    if (type === 'entity.parse.failed') return void res.status(400).json({ error: 'the body is not valid JSON' });
    if (type === 'charset.unsupported' || type === 'encoding.unsupported') return void res.status(415).json({ error: 'unsupported body encoding' });
    const status = (error as { status?: number }).status;
    if (status !== undefined && status >= 400 && status < 500) return void res.status(status).json({ error: 'bad request' });
    logger.error('HTTP handler error', { method: req.method, route: req.route?.path, error: (error as Error).message, stack: (error as Error).stack });
    res.status(500).json({ error: 'internal error' });
  });
  return app;
}

/**
 * The embedded viewer: OHIF under OHIF_BASE and the read-only DICOMweb proxy it reads, both behind a
 * viewer token when authentication is on (the dashboard's session cookie rides along on the viewer's
 * same-origin requests), with their own, wider rate limit. Not in the OpenAPI document: the proxy
 * speaks DICOMweb (PS3.18), the viewer is a web app.
 */
function mountViewer(app: express.Express, viewer: EmbeddedViewer, windowMs: number, auth: Authenticator): void {
  const limit = limiter(windowMs, viewer.rateLimit, 'viewer requests');
  const proxy = createDicomWebProxy({ relay: viewer.relay });
  app.use(viewer.dicomWebPath, limit, async (req: Request, res: Response, next: NextFunction) => {
    try {
      authorise({ access: 'viewer' }, req, auth, undefined);
      await proxy(req, res, req.path);
    } catch (error) {
      if (error instanceof HttpError) return refuse(res, error);
      next(error);
    }
  });
  const gate = (req: Request, res: Response): boolean => {
    try {
      authorise({ access: 'viewer' }, req, auth, undefined);
      return true;
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      // As the dashboard's pages: the sign-in form, which comes back here once signed in.
      if (error.status === 401) res.status(401).type('html').send(renderLoginPage());
      else refuse(res, error);
      return false;
    }
  };
  app.use(OHIF_BASE, limit, createOhifHandler({ dist: viewer.ohifDist, dicomWebPath: viewer.dicomWebPath, gate }));
}

/** The routes an app serves (method and express path), read from express itself: for the OpenAPI check. */
export function mountedRoutes(app: express.Express): Array<{ method: string; path: string }> {
  const stack = (app as unknown as { router: { stack: Array<{ route?: { path: string; methods: Record<string, boolean> } }> } }).router.stack;
  return stack.flatMap((layer) => (layer.route ? Object.keys(layer.route.methods).map((method) => ({ method, path: layer.route!.path })) : []));
}
