/**
 * Wiring of the service (one place): job store, Orthanc client, discovery (changes feed + webhook),
 * worker, HTTP server. `startService` resolves once the server listens; `stop` shuts down gracefully.
 */
import { mkdirSync } from 'node:fs';
import type { Express } from 'express';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { exposureProblem, type ServiceConfig } from '../config/schema.js';
import { featuresOf, findStudyId, undeclaredUserMetadata, type OrthancFeatures } from '../orthanc/metadata.js';
import { OrthancRestClient } from '../orthanc/rest-client.js';
import type { JobStore } from '../queue/job-store.js';
import { describeJobStore, openJobStore } from '../queue/open-job-store.js';
import { splitUrlCredentials } from '../util/redact.js';
import { createApp } from '../server/app.js';
import { createMetrics } from '../server/metrics.js';
import { ChangesListener } from './changes-listener.js';
import { createDiscovery } from './discovery.js';
import { createLogger, type Logger } from './logger.js';
import { modelKeyOf } from '../core/model-identity.js';
import { jobModelKey } from './job-key.js';
import { createResultArchive } from './result-archive.js';
import { FhirOutbox } from './fhir-outbox.js';
import { fhirNotifierOptions, postFhirBundle } from './fhir-notifier.js';
import { Gauge } from 'prom-client';
import { METADATA } from './marking.js';
import { createStudyJobHandler, type StudyProcessor } from './study-job.js';
import { Worker, newWorkerId } from '../queue/worker.js';
import { describeStoreError } from '../queue/store-health.js';
import { CalibrationStore } from '../pipeline/calibration-store.js';
import { CalibrationRunner } from './calibration-runner.js';
import { calibrationRoutes } from '../server/calibration-routes.js';
import { defaultOhifDist, ohifDistProblem } from '../server/ohif.js';
import type { EmbeddedViewer } from '../server/app.js';

export interface ServiceOptions {
  readonly config: ServiceConfig;
  readonly processor: StudyProcessor;
  readonly logger?: Logger;
  /** The job store; the SQLite file under `dataDir` when not given. The service closes it at stop. */
  readonly store?: JobStore;
}

export interface RunningService {
  /** The HTTP root, e.g. http://127.0.0.1:8088 */
  readonly url: string;
  readonly port: number;
  readonly modelKey: string;
  readonly store: JobStore;
  readonly worker: Worker;
  readonly listener: ChangesListener | undefined;
  readonly logger: Logger;
  /** The HTTP face (tests read its mounted routes). */
  readonly app: Express;
  readonly calibrations: CalibrationRunner;
  /** Graceful stop: no new jobs; running ones finish within `graceMs` or go back to the queue. */
  stop(graceMs?: number): Promise<void>;
}

export async function startService(options: ServiceOptions): Promise<RunningService> {
  const { config, processor } = options;
  // Refuse before anything starts: another address than loopback without authentication.
  const exposure = exposureProblem(config);
  if (exposure !== undefined) throw new Error(`refusing to start: ${exposure}`);
  const viewer = config.viewer.ohif ? embeddedViewer(config) : undefined;
  const logger =
    options.logger ??
    createLogger(config.logging.level, {
      secrets: [
        config.orthanc.password,
        config.server.webhookSecret,
        ...config.server.auth.viewerTokens,
        ...config.server.auth.adminTokens,
        config.queue.postgres.url,
        config.queue.postgres.url === undefined ? undefined : splitUrlCredentials(config.queue.postgres.url).password,
      ],
    });
  const modelKey = modelKeyOf(processor.model);
  mkdirSync(config.dataDir, { recursive: true });
  const store = options.store ?? openJobStore(config, logger);
  const client = new OrthancRestClient(config.orthanc);
  const healthClient = new OrthancRestClient({ ...config.orthanc, timeoutMs: 3000 });

  // Read once Orthanc answers: its version (labels) and whether it declares our user metadata.
  let features: OrthancFeatures | undefined;
  const getFeatures = async (): Promise<OrthancFeatures> => {
    if (features !== undefined) return features;
    const system = await client.system();
    const missingMetadata = await undeclaredUserMetadata(client, Object.values(METADATA));
    if (missingMetadata.length > 0) {
      logger.warn('Orthanc does not declare the user metadata PULSE writes: studies are processed and stored, but not marked', {
        missing: missingMetadata,
        fix: 'declare them under "UserMetadata" in orthanc.json (see orthanc-config/orthanc.json)',
      });
    }
    features = { ...featuresOf(system), missingMetadata };
    return features;
  };

  const workerId = newWorkerId();
  const metrics = createMetrics(store, processor.model, workerId);
  const archive = createResultArchive(join(config.dataDir, 'results'));
  const fhirOutbox = config.fhir.url === undefined ? undefined : new FhirOutbox(join(config.dataDir, 'fhir-outbox'), config.fhir.keepUndeliveredHours * 3_600_000);
  if (fhirOutbox) {
    new Gauge({
      name: 'pulse_fhir_outbox_pending',
      help: 'FHIR reports not yet delivered, waiting in this replica\'s data folder to be sent again',
      registers: [metrics.registry],
      collect() {
        this.set(fhirOutbox.pending());
      },
    });
  }
  const handler = createStudyJobHandler({ client, config, processor, features: getFeatures, logger, archive, ...(fhirOutbox ? { fhirOutbox } : {}) });
  const worker = new Worker(store, handler, { ...config.queue, owner: workerId }, logger, metrics);
  const jobKey = () => jobModelKey(processor);
  const discovery = createDiscovery(client, store, jobKey, logger, () => worker.notify());
  const listener = config.changesFeed.enabled ? new ChangesListener(client, store, discovery, config.changesFeed, logger) : undefined;

  const calibrations = new CalibrationRunner({ client, config, store: new CalibrationStore(config.dataDir), logger });
  const app = createApp({
    store,
    extraRoutes: calibrationRoutes(new CalibrationStore(config.dataDir), calibrations),
    calibrations: () => {
      try {
        return new CalibrationStore(config.dataDir).list();
      } catch (error) {
        // An unreadable calibration file must not take the dashboard down; the API names it.
        logger.warn('calibration history not shown', { error: (error as Error).message });
        return [];
      }
    },
    discovery,
    metrics,
    logger,
    modelKey,
    jobModelKey: jobKey,
    server: config.server,
    archive,
    ...(config.server.viewerUrl ? { viewerUrl: config.server.viewerUrl } : {}),
    ...(viewer ? { viewer: { ...viewer, relay: (path, call) => client.dicomWebRelay(path, call) } } : {}),
    onQueued: () => worker.notify(),
    findStudy: (uid) => findStudyId(client, uid),
    readiness: async () => {
      const orthanc = await healthClient.system().then(
        () => ({ ok: true }),
        (error: unknown) => ({ ok: false, reason: `Orthanc unreachable: ${(error as Error).message}` }),
      );
      let queue: { ok: boolean; reason?: string };
      try {
        // A write the store must be able to do for every job (a full or read-only disk fails it).
        await store.setValue('readyz.probe', String(Date.now()));
        // The worker's own writes (an outcome, a lease) may fail where this small one succeeds.
        const problem = worker.storeHealth.problem;
        queue = problem === undefined ? { ok: true } : { ok: false, reason: problem };
      } catch (error) {
        queue = { ok: false, reason: `queue not writable: ${describeStoreError(error)}` };
      }
      const model = processor.readiness ? await processor.readiness() : { ok: true };
      // Orthanc without our user metadata: studies are processed and stored but not marked.
      const missing = features?.missingMetadata ?? [];
      const marking = missing.length === 0 ? { ok: true } : { ok: false, reason: `Orthanc does not declare the user metadata ${missing.join(', ')}: studies are not marked (declare them in orthanc.json "UserMetadata")` };
      return { orthanc, model, queue, marking };
    },
    health: async () => {
      try {
        const system = await healthClient.system();
        return { ok: true, orthanc: { reachable: true, version: system.Version }, busy: worker.busy };
      } catch {
        // The service itself is up; Orthanc being away only delays jobs.
        return { ok: true, orthanc: { reachable: false }, busy: worker.busy };
      }
    },
  });

  let server: Server;
  try {
    server = await new Promise<Server>((resolve, reject) => {
      const s = app.listen(config.server.port, config.server.host, (error?: Error) => (error ? reject(error) : resolve(s)));
      s.once('error', reject);
    });
  } catch (error) {
    await store.close();
    throw new Error(`cannot listen on ${config.server.host}:${config.server.port}: ${(error as Error).message}`);
  }
  const port = (server.address() as AddressInfo).port;

  // Detect Orthanc's features now, so readiness reports missing metadata before the first study; an
  // Orthanc that is not up yet is asked again by the first job.
  void getFeatures().catch((error: unknown) => logger.warn('Orthanc not reachable at start', { error: (error as Error).message }));
  worker.start();
  listener?.start();
  calibrations.schedule();
  const redelivery = fhirOutbox ? scheduleFhirRedelivery(fhirOutbox, config, logger) : undefined;
  logger.info('PULSE service started', {
    port,
    model: modelKey,
    orthanc: config.orthanc.url,
    host: config.server.host,
    authentication: config.server.auth.viewerTokens.length + config.server.auth.adminTokens.length > 0,
    changesFeed: listener !== undefined,
    webhook: config.server.webhookSecret !== undefined,
    concurrency: config.queue.concurrency,
    queue: describeJobStore(config),
    worker: worker.owner,
    viewer: viewer ? '/ohif/' : config.server.viewerUrl !== undefined ? 'external' : 'none',
  });

  let stopped: Promise<void> | undefined;
  return {
    url: `http://${config.server.host === '0.0.0.0' ? '127.0.0.1' : config.server.host}:${port}`,
    port,
    modelKey,
    store,
    worker,
    listener,
    logger,
    app,
    calibrations,
    stop(graceMs = 30_000) {
      stopped ??= (async () => {
        logger.info('PULSE service stopping');
        await listener?.stop();
        await redelivery?.stop();
        await calibrations.stop();
        await worker.stop(graceMs);
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await store.close();
        await processor.close?.();
        logger.info('PULSE service stopped');
      })();
      return stopped;
    },
  };
}

/**
 * Sends the outbox's waiting FHIR reports again every fhir.redeliverEverySeconds (the first pass soon
 * after start: reports left by the previous run), one attempt per report per pass.
 */
function scheduleFhirRedelivery(outbox: FhirOutbox, config: ServiceConfig, logger: Logger): { stop(): Promise<void> } {
  const stopping = new AbortController();
  const options = fhirNotifierOptions({ ...config.fhir, url: config.fhir.url! }, { attempts: 1, signal: stopping.signal });
  let running: Promise<unknown> | undefined;
  const pass = (): void => {
    if (stopping.signal.aborted || outbox.pending() === 0) return;
    const send = (bundle: unknown) => postFhirBundle(bundle, options);
    running = outbox.redeliver(send, logger).then(
      (count) => {
        if (count.delivered + count.expired + count.unreadable > 0) logger.info('FHIR outbox pass', { ...count });
      },
      (error: unknown) => logger.error('FHIR outbox pass failed', { error: (error as Error).message }),
    );
  };
  const first = setTimeout(pass, Math.min(5_000, config.fhir.redeliverEverySeconds * 1000));
  const every = setInterval(pass, config.fhir.redeliverEverySeconds * 1000);
  first.unref();
  every.unref();
  return {
    async stop() {
      clearTimeout(first);
      clearInterval(every);
      stopping.abort();
      await running;
    },
  };
}

/** The embedded viewer's settings, or why it cannot be served (the service then refuses to start). */
function embeddedViewer(config: ServiceConfig): Omit<EmbeddedViewer, 'relay'> {
  const ohifDist = config.viewer.ohifDist ?? defaultOhifDist();
  const problem = ohifDistProblem(ohifDist);
  if (problem !== undefined) throw new Error(`refusing to start: viewer.ohif is on, but ${problem}`);
  const dicomWebPath = config.orthanc.dicomWebRoot.replace(/\/+$/u, '');
  // The proxy answers where Orthanc's own BulkDataURIs point (its DICOMweb root on our host).
  if (!/^\/[A-Za-z0-9_-]+$/u.test(dicomWebPath) || ['/api', '/ohif', '/studies', '/assets', '/webhook', '/metrics'].includes(dicomWebPath)) {
    throw new Error(`refusing to start: viewer.ohif needs orthanc.dicomWebRoot to be one path segment other than the service's own (got "${config.orthanc.dicomWebRoot}")`);
  }
  return { ohifDist, dicomWebPath, rateLimit: config.viewer.rateLimit };
}
