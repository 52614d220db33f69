/**
 * PULSE_* environment variables and the setting each one fills. One table, so the deployment test can
 * check that docker-compose.yml only names variables the service reads. A secret may instead come
 * from a file named by `<NAME>_FILE` (Docker and Kubernetes secrets), so it shows in no `ps` or
 * `docker inspect`.
 */
import { readFileSync } from 'node:fs';

export type EnvKind = 'string' | 'int' | 'number' | 'boolean' | 'list';

export interface EnvVariable {
  readonly name: string;
  /** Dotted path into the configuration (src/config/schema.ts). */
  readonly path: string;
  readonly kind: EnvKind;
  /** A secret: also read from the file named by `<name>_FILE`, masked by `pulse config check`. */
  readonly secret?: boolean;
}

export const ENVIRONMENT: readonly EnvVariable[] = [
  { name: 'PULSE_ORTHANC_URL', path: 'orthanc.url', kind: 'string' },
  { name: 'PULSE_ORTHANC_DICOMWEB_ROOT', path: 'orthanc.dicomWebRoot', kind: 'string' },
  { name: 'PULSE_ORTHANC_USERNAME', path: 'orthanc.username', kind: 'string', secret: true },
  { name: 'PULSE_ORTHANC_PASSWORD', path: 'orthanc.password', kind: 'string', secret: true },
  { name: 'PULSE_ORTHANC_TIMEOUT_MS', path: 'orthanc.timeoutMs', kind: 'int' },
  { name: 'PULSE_DATA_DIR', path: 'dataDir', kind: 'string' },
  { name: 'PULSE_PORT', path: 'server.port', kind: 'int' },
  { name: 'PULSE_HOST', path: 'server.host', kind: 'string' },
  { name: 'PULSE_WEBHOOK_SECRET', path: 'server.webhookSecret', kind: 'string', secret: true },
  { name: 'PULSE_VIEWER_TOKENS', path: 'server.auth.viewerTokens', kind: 'list', secret: true },
  { name: 'PULSE_ADMIN_TOKENS', path: 'server.auth.adminTokens', kind: 'list', secret: true },
  { name: 'PULSE_VIEWER_URL', path: 'server.viewerUrl', kind: 'string' },
  { name: 'PULSE_VIEWER_OHIF', path: 'viewer.ohif', kind: 'boolean' },
  { name: 'PULSE_VIEWER_OHIF_DIST', path: 'viewer.ohifDist', kind: 'string' },
  { name: 'PULSE_RATE_LIMIT_READS', path: 'server.rateLimit.reads', kind: 'int' },
  { name: 'PULSE_RATE_LIMIT_WRITES', path: 'server.rateLimit.writes', kind: 'int' },
  { name: 'PULSE_CHANGES_FEED', path: 'changesFeed.enabled', kind: 'boolean' },
  { name: 'PULSE_CHANGES_POLL_MS', path: 'changesFeed.pollIntervalMs', kind: 'int' },
  { name: 'PULSE_CHANGES_START_FROM', path: 'changesFeed.startFrom', kind: 'string' },
  { name: 'PULSE_QUEUE_BACKEND', path: 'queue.backend', kind: 'string' },
  { name: 'PULSE_QUEUE_POSTGRES_URL', path: 'queue.postgres.url', kind: 'string', secret: true },
  { name: 'PULSE_QUEUE_POSTGRES_SCHEMA', path: 'queue.postgres.schema', kind: 'string' },
  { name: 'PULSE_QUEUE_POSTGRES_POOL_SIZE', path: 'queue.postgres.poolSize', kind: 'int' },
  { name: 'PULSE_CONCURRENCY', path: 'queue.concurrency', kind: 'int' },
  { name: 'PULSE_LEASE_MS', path: 'queue.leaseMs', kind: 'int' },
  { name: 'PULSE_MAX_ATTEMPTS', path: 'queue.maxAttempts', kind: 'int' },
  { name: 'PULSE_RETRY_BUDGET_MS', path: 'queue.retryBudgetMs', kind: 'int' },
  { name: 'PULSE_MAX_STUDY_INSTANCES', path: 'limits.maxInstances', kind: 'int' },
  { name: 'PULSE_MAX_STUDY_BYTES', path: 'limits.maxBytes', kind: 'int' },
  { name: 'PULSE_MAX_STUDY_PIXELS', path: 'limits.maxPixels', kind: 'int' },
  { name: 'PULSE_QUEUE_POLL_MS', path: 'queue.pollIntervalMs', kind: 'int' },
  { name: 'PULSE_BACKOFF_BASE_MS', path: 'queue.backoff.baseMs', kind: 'int' },
  { name: 'PULSE_BACKOFF_MAX_MS', path: 'queue.backoff.maxMs', kind: 'int' },
  { name: 'PULSE_ROUTING_MODALITIES', path: 'routing.series.modalities', kind: 'list' },
  { name: 'PULSE_ROUTING_CALLING_AETS', path: 'routing.callingAETitles', kind: 'list' },
  { name: 'PULSE_MODEL_MANIFEST', path: 'model.manifest', kind: 'string' },
  { name: 'PULSE_CALIBRATION', path: 'model.calibration', kind: 'string' },
  { name: 'PULSE_MODEL_TTA', path: 'model.tta', kind: 'string' },
  { name: 'PULSE_MODEL_THREADS', path: 'model.threads', kind: 'int' },
  { name: 'PULSE_URGENT_LVEF_BELOW', path: 'marking.urgentLvefBelowPct', kind: 'number' },
  { name: 'PULSE_FORWARD_MODALITY', path: 'forward.modality', kind: 'string' },
  { name: 'PULSE_REPORT_PDF', path: 'reports.pdf', kind: 'boolean' },
  { name: 'PULSE_SEG_ON_QC_FAIL', path: 'reports.segOnQcFail', kind: 'boolean' },
  { name: 'PULSE_VIEWER_PHASE_SERIES', path: 'reports.viewerPhaseSeries', kind: 'boolean' },
  { name: 'PULSE_FHIR_URL', path: 'fhir.url', kind: 'string' },
  { name: 'PULSE_FHIR_SECRET', path: 'fhir.secret', kind: 'string', secret: true },
  { name: 'PULSE_FHIR_ATTEMPTS', path: 'fhir.attempts', kind: 'int' },
  { name: 'PULSE_FHIR_REDELIVER_EVERY_S', path: 'fhir.redeliverEverySeconds', kind: 'number' },
  { name: 'PULSE_FHIR_KEEP_UNDELIVERED_H', path: 'fhir.keepUndeliveredHours', kind: 'number' },
  { name: 'PULSE_LOG_LEVEL', path: 'logging.level', kind: 'string' },
];

/** Converts one variable's text; a value that does not parse is an error naming the variable. */
function convert(variable: EnvVariable, text: string): unknown {
  switch (variable.kind) {
    case 'string':
      return text;
    case 'list':
      // Commas or line breaks: a secret file holds one token per line.
      return text.split(/[,\r\n]/u).map((s) => s.trim()).filter((s) => s.length > 0);
    case 'boolean':
      if (/^(1|true|yes|on)$/i.test(text)) return true;
      if (/^(0|false|no|off)$/i.test(text)) return false;
      throw new Error(`${variable.name} must be true or false`);
    case 'int':
    case 'number': {
      const value = Number(text);
      if (text.trim() === '' || !Number.isFinite(value) || (variable.kind === 'int' && !Number.isInteger(value))) {
        throw new Error(`${variable.name} must be ${variable.kind === 'int' ? 'an integer' : 'a number'}`);
      }
      return value;
    }
  }
}

/** Sets `value` at a dotted path in a plain object, creating the objects on the way. */
export function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]!] = value;
}

/** Every variable name the service reads: the table's, and `<name>_FILE` for each secret. */
export function environmentNames(): string[] {
  return ENVIRONMENT.flatMap((v) => (v.secret ? [v.name, `${v.name}_FILE`] : [v.name]));
}

/** A secret's text from its `_FILE` variable (trailing line break dropped); errors name the variable. */
function readSecretFile(variable: EnvVariable, path: string): string {
  try {
    return readFileSync(path, 'utf8').replace(/\r?\n$/u, '');
  } catch (error) {
    throw new Error(`${variable.name}_FILE names ${path}, which cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/** The part of the configuration the environment gives (empty variables count as unset). */
export function configFromEnvironment(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const variable of ENVIRONMENT) {
    let text = env[variable.name];
    const file = variable.secret ? env[`${variable.name}_FILE`] : undefined;
    if (file !== undefined && file !== '') {
      if (text !== undefined && text !== '') throw new Error(`${variable.name} and ${variable.name}_FILE are both set: keep one`);
      text = readSecretFile(variable, file);
    }
    if (text === undefined || text === '') continue;
    setPath(out, variable.path, convert(variable, text));
  }
  return out;
}

/** The dotted paths of secret settings (masked wherever the configuration is shown). */
export const SECRET_PATHS: readonly string[] = ENVIRONMENT.filter((v) => v.secret).map((v) => v.path);
