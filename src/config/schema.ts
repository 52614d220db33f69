/**
 * The service's settings: one zod schema, documented defaults. Built from a JSON file (`--config`),
 * then PULSE_* environment variables (src/config/environment.ts), then CLI flags; later wins.
 * With nothing configured the service polls Orthanc's changes feed on http://127.0.0.1:8042.
 */
import { z } from 'zod';

/** A JavaScript regular expression source, checked when the configuration is read. */
const Pattern = z.string().refine((source) => {
  try {
    new RegExp(source, 'i');
    return true;
  } catch {
    return false;
  }
}, 'not a valid regular expression');

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
      /** Job store backend (PostgreSQL comes later). @defaultValue 'sqlite' */
      backend: z.literal('sqlite').default('sqlite'),
      /** Studies processed at the same time. @defaultValue 1 */
      concurrency: z.number().int().min(1).max(64).default(1),
      /** A running job's lease (ms); a job whose lease ran out (killed worker) is queued again. @defaultValue 120000 */
      leaseMs: z.number().int().min(500).default(120_000),
      /** Attempts before a job that keeps failing transiently is failed for good. @defaultValue 8 */
      maxAttempts: z.number().int().min(1).default(8),
      /** How often an idle worker looks for due jobs (ms). @defaultValue 1000 */
      pollIntervalMs: z.number().int().positive().default(1000),
      backoff: BackoffSchema.prefault({}),
    })
    .prefault({}),
  routing: z
    .object({
      /** Modalities of the image series that qualify. @defaultValue ['MR'] */
      modalities: z.array(z.string().min(1)).min(1).default(['MR']),
      /** StudyDescription must match (case-insensitive regular expression), when set. */
      studyDescription: Pattern.optional(),
      /** A candidate series' SeriesDescription must match, when set. */
      seriesDescription: Pattern.optional(),
      /** BodyPartExamined of a candidate series must be one of these (case-insensitive), when set; a missing tag passes. */
      bodyParts: z.array(z.string().min(1)).optional(),
      /** SOP Class UIDs a candidate series may have. @defaultValue MR Image Storage, Enhanced MR Image Storage */
      sopClasses: z.array(z.string().regex(/^[0-9.]+$/)).min(1).default(['1.2.840.10008.5.1.4.1.1.4', '1.2.840.10008.5.1.4.1.1.4.1']),
      /** Calling AE titles (Orthanc's RemoteAET metadata) accepted, when set. */
      callingAETitles: z.array(z.string().min(1)).optional(),
      /** Require a cine short-axis series: one orientation, several slices, several phases per slice. @defaultValue true */
      requireCine: z.boolean().default(true),
      /** Least number of slice positions in a cine stack. @defaultValue 3 */
      minSlices: z.number().int().min(1).default(3),
      /**
       * Least number of phases per slice position. 2 accepts ED/ES-only stacks (as ACDC stores them),
       * which the pipeline measures from those two phases. @defaultValue 2
       */
      minPhases: z.number().int().min(1).default(2),
    })
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

/** The settings as the service uses them, every default filled in. */
export type ServiceConfig = z.infer<typeof ConfigSchema>;
/** What a file, the environment or flags may give: any part, nested. */
export type ConfigInput = z.input<typeof ConfigSchema>;
