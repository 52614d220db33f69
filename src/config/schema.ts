/**
 * The service's settings: one zod schema, documented defaults. Built from a JSON file (`--config`),
 * then PULSE_* environment variables (src/config/environment.ts), then CLI flags; later wins.
 * With nothing configured the service polls Orthanc's changes feed on http://127.0.0.1:8042.
 */
import { z } from 'zod';
import { RegexSource, SeriesSelectionRulesSchema } from '../study/series-rules.js';
import { splitUrlCredentials } from '../util/redact.js';
import { TTA_MODES } from '../model/tta-names.js';

/** A JavaScript regular expression source, checked when the configuration is read. */
const Pattern = RegexSource;

const BackoffSchema = z.object({
  /** Delay before the first retry (ms). @defaultValue 2000 */
  baseMs: z.number().int().min(0).default(2000),
  /** Growth per attempt. @defaultValue 2 */
  factor: z.number().min(1).default(2),
  /** Largest delay (ms). @defaultValue 300000 (5 minutes) */
  maxMs: z.number().int().min(0).default(300_000),
  /** Share of the delay drawn at random (0: none, 1: full jitter). @defaultValue 0.5 */
  jitter: z.number().min(0).max(1).default(0.5),
});

/** An API bearer token: long enough not to be guessed, printable, no spaces. */
const Token = z.string().regex(/^[\x21-\x7e]{16,256}$/u, 'a token must be 16 to 256 printable characters without spaces');

export const ConfigSchema = z.object({
  orthanc: z
    .object({
      /** Orthanc's REST root. @defaultValue 'http://127.0.0.1:8042' */
      url: z.url().default('http://127.0.0.1:8042'),
      /** DICOMweb root, relative to `url`. @defaultValue '/dicom-web' */
      dicomWebRoot: z.string().default('/dicom-web'),
      /** HTTP basic user, when Orthanc asks for authentication. */
      username: z.string().optional(),
      password: z.string().optional(),
      /** Per-request timeout (ms); a timeout counts as Orthanc unavailable. @defaultValue 60000 */
      timeoutMs: z.number().int().positive().default(60_000),
    })
    // Credentials written into the URL (http://user:pw@host) move to username/password, so the URL
    // that is logged and shown never holds them (and fetch refuses URLs with credentials).
    .transform((orthanc) => {
      const split = splitUrlCredentials(orthanc.url);
      if (split.username === undefined) return orthanc;
      return { ...orthanc, url: split.url, username: orthanc.username ?? split.username, password: orthanc.password ?? split.password };
    })
    .prefault({}),
  /** Folder for the queue database and the changes-feed cursor. @defaultValue '.pulse-data' */
  dataDir: z.string().min(1).default('.pulse-data'),
  server: z
    .object({
      /** HTTP port of the webhook, API, dashboard and metrics; 0 picks a free one. @defaultValue 8088 */
      port: z.number().int().min(0).max(65535).default(8088),
      /** Interface to listen on. @defaultValue '127.0.0.1' */
      host: z.string().default('127.0.0.1'),
      /** Shared secret the Lua script sends in `X-Pulse-Secret`; without one the webhook is off. */
      webhookSecret: z.string().min(8).optional(),
      /**
       * Bearer tokens. viewer: read jobs, results, metrics, dashboard; admin: that and reprocess,
       * retry, calibrations. With no token at all, authentication is off, which only a loopback
       * `host` allows. Tokens come best from PULSE_VIEWER_TOKENS_FILE / PULSE_ADMIN_TOKENS_FILE.
       */
      auth: z
        .object({
          viewerTokens: z.array(Token).default([]),
          adminTokens: z.array(Token).default([]),
        })
        .prefault({}),
      /** Requests per client address and window on the API and dashboard. */
      rateLimit: z
        .object({
          /** Window length (ms). @defaultValue 60000 */
          windowMs: z.number().int().min(1000).default(60_000),
          /** Reads (jobs, results, dashboard, metrics) per window. @defaultValue 240 */
          reads: z.number().int().min(1).default(240),
          /** State-changing requests (reprocess, retry, calibrations) per window. @defaultValue 30 */
          writes: z.number().int().min(1).default(30),
        })
        .prefault({}),
      /**
       * Link from the dashboard's study page to a viewer; `{StudyInstanceUID}` is replaced, e.g.
       * 'http://localhost:3000/viewer?StudyInstanceUIDs={StudyInstanceUID}' (OHIF). None when unset.
       */
      viewerUrl: z.url().optional(),
      /** Reprocessing requests that may wait in the queue at once; more are refused (429). @defaultValue 50 */
      maxQueuedReprocess: z.number().int().min(1).default(50),
    })
    .prefault({}),
  viewer: z
    .object({
      /**
       * Serve the OHIF v3 viewer under /ohif/ with Orthanc's DICOMweb behind a read-only proxy at
       * `orthanc.dicomWebRoot` (Orthanc's credentials stay in the service; a viewer token is needed
       * when authentication is on). The dashboard's study page then links to the study in it, unless
       * `server.viewerUrl` names another viewer. Needs scripts/install-ohif.sh. @defaultValue false
       */
      ohif: z.boolean().default(false),
      /** The viewer's prebuilt files (@ohif/app's dist/). @defaultValue '<project>/vendor/ohif' */
      ohifDist: z.string().min(1).optional(),
      /**
       * Requests per client address and window on the viewer and its DICOMweb proxy (a study's
       * frames, thumbnails and metadata are hundreds of requests). @defaultValue 6000
       */
      rateLimit: z.number().int().min(1).default(6000),
    })
    .prefault({}),
  changesFeed: z
    .object({
      /** Poll Orthanc's /changes feed (the path that never misses a study). @defaultValue true */
      enabled: z.boolean().default(true),
      /** Delay between polls when the feed is drained (ms). @defaultValue 2000 */
      pollIntervalMs: z.number().int().positive().default(2000),
      /** Changes read per request. @defaultValue 200 */
      batchSize: z.number().int().min(1).max(10_000).default(200),
      /**
       * Where a first start (no cursor yet) begins: 'now' ignores the history, 'beginning' replays it.
       * @defaultValue 'beginning'
       */
      startFrom: z.enum(['beginning', 'now']).default('beginning'),
    })
    .prefault({}),
  queue: z
    .object({
      /**
       * Job store backend: 'sqlite' (one file under dataDir, replicas on one machine) or 'postgres'
       * (replicas on several machines share `queue.postgres.url`). @defaultValue 'sqlite'
       */
      backend: z.enum(['sqlite', 'postgres']).default('sqlite'),
      postgres: z
        .object({
          /** postgres://user:password@host:5432/database; a secret (PULSE_QUEUE_POSTGRES_URL_FILE). Required with backend 'postgres'. */
          url: z.string().min(1).optional(),
          /**
           * Schema holding the queue's tables (created when missing), pg-boss's in `<schema>_boss`: one per
           * PULSE installation sharing a database. At most 58 characters, so `_boss` still fits PostgreSQL's 63.
           * @defaultValue 'pulse'
           */
          schema: z.string().regex(/^[a-z_][a-z0-9_]{0,57}$/u, 'a lower-case SQL identifier of at most 58 characters').default('pulse'),
          /** Connections each replica opens. @defaultValue 4 */
          poolSize: z.number().int().min(1).max(100).default(4),
        })
        .prefault({}),
      /** Studies processed at the same time. @defaultValue 1 */
      concurrency: z.number().int().min(1).max(64).default(1),
      /**
       * A running job's lease (ms), renewed every third of it while the job runs (heartbeat); a job whose
       * lease ran out (killed worker) is queued again, so this is how long a killed worker's job waits.
       * @defaultValue 15000
       */
      leaseMs: z.number().int().min(500).default(15_000),
      /** Claims that end without an outcome (worker killed, lease lost) before a job is failed. @defaultValue 8 */
      maxAttempts: z.number().int().min(1).default(8),
      /**
       * How long a job keeps being retried while Orthanc is unavailable (ms), counted from its first
       * upstream failure; waiting spends no attempts. @defaultValue 86400000 (24 h)
       */
      retryBudgetMs: z.number().int().min(0).default(86_400_000),
      /** How often an idle worker looks for due jobs (ms). @defaultValue 1000 */
      pollIntervalMs: z.number().int().positive().default(1000),
      backoff: BackoffSchema.prefault({}),
    })
    .refine((queue) => queue.backend !== 'postgres' || queue.postgres.url !== undefined, {
      message: "queue.backend 'postgres' needs queue.postgres.url (PULSE_QUEUE_POSTGRES_URL or PULSE_QUEUE_POSTGRES_URL_FILE)",
      path: ['postgres', 'url'],
    })
    .prefault({}),
  limits: z
    .object({
      /** Instances of the selected series; a larger study is refused before anything is retrieved. @defaultValue 4000 */
      maxInstances: z.number().int().min(1).default(4000),
      /** Bytes of the selected series as Orthanc stores them (what retrieval holds in memory). @defaultValue 536870912 (512 MiB) */
      maxBytes: z.number().int().min(1).default(512 * 1024 * 1024),
      /** Pixels to decode (rows x columns x frames, summed over instances). @defaultValue 67108864 (64 Mi) */
      maxPixels: z.number().int().min(1).default(64 * 1024 * 1024),
    })
    .prefault({}),
  routing: z
    .object({
      /** StudyDescription must match (case-insensitive regular expression), when set. */
      studyDescription: Pattern.optional(),
      /** BodyPartExamined of a candidate series must be one of these (case-insensitive), when set; a missing tag passes. */
      bodyParts: z.array(z.string().min(1)).optional(),
      /** Calling AE titles (Orthanc's RemoteAET metadata) accepted, when set. */
      callingAETitles: z.array(z.string().min(1)).optional(),
      /** Require a cine stack before queuing work: several slice positions, several phases per slice. @defaultValue true */
      requireCine: z.boolean().default(true),
      /**
       * Which series is the cine short-axis stack (src/study/series-rules.ts, defaults documented
       * there): modalities, SOP classes, SeriesDescription include/exclude patterns, orientation,
       * minSlices (3), minPhases (2; ED/ES-only stacks as ACDC stores them qualify). The router
       * pre-checks them on Orthanc's index and the pipeline applies the same rules to the pixels.
       */
      series: SeriesSelectionRulesSchema.prefault({}),
    })
    // Strict: a setting of an older layout (routing.modalities, routing.minSlices, ...) is refused by name, not ignored.
    .strict()
    .prefault({}),
  /** How the service recognises its own outputs, which never trigger processing. */
  ownOutputs: z
    .object({
      /** Manufacturer our SEG, SR and overlay carry (case-insensitive regular expression). @defaultValue '^PULSE' */
      manufacturer: Pattern.default('^PULSE'),
      /** SeriesDescription our outputs carry (case-insensitive regular expression). @defaultValue '^PULSE' */
      seriesDescription: Pattern.default('^PULSE'),
    })
    .prefault({}),
  model: z
    .object({
      /** Model manifest; the bundled PULSE-lite when unset. */
      manifest: z.string().optional(),
      /** Site calibration id applied on top of the model (null: none). @defaultValue null */
      calibration: z.string().nullable().default(null),
      /**
       * Test-time augmentation (src/model/tta.ts): 'flips' runs every window four times (identity,
       * two flips, transpose), averages the probabilities and reports their disagreement in
       * result.json's qc.uncertainty; about 4x the inference time. Not with a site calibration's
       * logit adapter (such a study fails, saying so). @defaultValue 'none'
       */
      tta: z.enum(TTA_MODES).default('none'),
      /**
       * onnxruntime intra-op threads per study being processed. Keep threads x queue.concurrency x
       * replicas on one host at or below its cores; on small machines 1 is fastest per study too
       * (docs/performance.md). @defaultValue 1
       */
      threads: z.number().int().min(1).max(64).default(1),
    })
    .prefault({}),
  calibration: z
    .object({
      /** node-cron expression for a scheduled calibration (e.g. '0 2 * * *': nightly at 2); none when unset. */
      schedule: z.string().min(1).optional(),
      /** The user metadata (name and value) that marks a study in Orthanc as annotated for calibration. */
      annotatedMetadata: z.object({ name: z.string().min(1), value: z.string().min(1) }).optional(),
      /** Mean Dice gain a calibration needs to be promoted. @defaultValue 0.01 */
      minGain: z.number().min(0).max(1).default(0.01),
      /** Largest Dice loss on any structure a promoted calibration may cause. @defaultValue 0.02 */
      maxStructureLoss: z.number().min(0).max(1).default(0.02),
      /** End to end (the pipeline's own ED/ES on held-out studies): largest rise of LVEF MAE (points) a promoted calibration may cause. @defaultValue 1 */
      maxEndToEndLvefMaeIncrease: z.number().min(0).max(100).default(1),
      /** End to end: largest rise of the mean relative LV volume error (EDV, ESV) a promoted calibration may cause. @defaultValue 0.05 */
      maxEndToEndVolumeErrorIncrease: z.number().min(0).max(10).default(0.05),
    })
    .prefault({}),
  marking: z
    .object({
      /** A study whose LVEF (%) is below this is marked urgent. @defaultValue 35 */
      urgentLvefBelowPct: z.number().min(0).max(100).default(35),
      /** Also set Orthanc labels when /system says they exist (Orthanc >= 1.12). @defaultValue true */
      labels: z.boolean().default(true),
    })
    .prefault({}),
  reports: z
    .object({
      /** Store the PDF report as a DICOM Encapsulated PDF (series 9004) in the study. @defaultValue false */
      pdf: z.boolean().default(false),
      /**
       * Store the SEG of a result that failed quality control, for a person to inspect; false: store only
       * the SR that says the analysis failed (it then references no SEG). @defaultValue true
       */
      segOnQcFail: z.boolean().default(true),
      /**
       * Per labelled phase (ED, ES), also store a derived single-phase copy of the cine's images
       * (series 9011/9012, ImageType DERIVED\\SECONDARY) and a SEG of that phase referencing the copy
       * (series 9021/9022): OHIF 3.x draws a SEG of a cine on the wrong phase, a SEG of a single-phase
       * series exactly (docs/ohif-cine-seg.md). Every other reader shows the copies too, so by default
       * they follow `viewer.ohif`: on where the service serves OHIF, off otherwise.
       * @defaultValue viewer.ohif
       */
      viewerPhaseSeries: z.boolean().optional(),
    })
    .prefault({}),
  fhir: z
    .object({
      /** POST a FHIR R4 transaction Bundle (DiagnosticReport + Observations) here for every finished study, when set. */
      url: z.string().url().optional(),
      /** Sent as `Authorization: Bearer <secret>`; this notification's own secret, never the webhook's. */
      secret: z.string().min(8).optional(),
      /** Attempts per study (network errors, 5xx, 429 are retried with backoff). @defaultValue 5 */
      attempts: z.number().int().min(1).max(20).default(5),
      /** Backoff base (ms): attempt k waits base x 2^(k-1), with jitter. @defaultValue 1000 */
      backoffBaseMs: z.number().int().min(0).default(1000),
      /** Timeout of one POST (ms). @defaultValue 10000 */
      timeoutMs: z.number().int().min(100).default(10_000),
      /** A report still undelivered after those attempts waits under dataDir/fhir-outbox and is sent again this often (s). @defaultValue 300 */
      redeliverEverySeconds: z.number().positive().default(300),
      /** ...until it is this old (hours); then it moves to fhir-outbox/failed/ and is logged. @defaultValue 72 */
      keepUndeliveredHours: z.number().positive().default(72),
    })
    .prefault({}),
  forward: z
    .object({
      /** Orthanc modality id (from /modalities) that receives the SEG and SR, when set. */
      modality: z.string().min(1).optional(),
    })
    .prefault({}),
  logging: z
    .object({
      /** winston level. @defaultValue 'info' */
      level: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
    })
    .prefault({}),
});

/** An address only this machine reaches: 127.0.0.0/8, ::1, localhost. */
export function isLoopbackHost(host: string): boolean {
  return /^127(\.\d{1,3}){3}$/u.test(host) || host === '::1' || host === '[::1]' || host.toLowerCase() === 'localhost';
}

/**
 * Why this configuration must not start, or undefined: another address than loopback needs
 * authentication (anyone who reaches the port would otherwise read results and queue work).
 */
export function exposureProblem(config: { server: { host: string; auth: { viewerTokens: readonly string[]; adminTokens: readonly string[] } } }): string | undefined {
  const { host, auth } = config.server;
  if (isLoopbackHost(host) || auth.viewerTokens.length + auth.adminTokens.length > 0) return undefined;
  return (
    `server.host is ${host}, which other machines reach, but no API token is configured: ` +
    'set server.auth.adminTokens (PULSE_ADMIN_TOKENS_FILE or PULSE_ADMIN_TOKENS), or bind server.host to 127.0.0.1'
  );
}

/** The configuration schema with the rules between settings (exposure needs authentication). */
export const CheckedConfigSchema = ConfigSchema.superRefine((config, ctx) => {
  const problem = exposureProblem(config);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', path: ['server', 'auth', 'adminTokens'], message: problem });
});

/** Whether the viewer phase series are written: reports.viewerPhaseSeries, or else whether OHIF is served. */
export function viewerPhaseSeriesOn(config: { reports: { viewerPhaseSeries?: boolean | undefined }; viewer: { ohif: boolean } }): boolean {
  return config.reports.viewerPhaseSeries ?? config.viewer.ohif;
}

/** The settings as the service uses them, every default filled in. */
export type ServiceConfig = z.infer<typeof ConfigSchema>;
/** What a file, the environment or flags may give: any part, nested. */
export type ConfigInput = z.input<typeof ConfigSchema>;
