import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/load.js';
import { configFromEnvironment, ENVIRONMENT } from '../src/config/environment.js';
import { ConfigSchema, viewerPhaseSeriesOn } from '../src/config/schema.js';
import { configFromFlags } from '../src/cli/commands/serve.js';

test('with nothing configured the service polls the changes feed of a local Orthanc', () => {
  const config = loadConfig();
  assert.equal(config.orthanc.url, 'http://127.0.0.1:8042');
  assert.equal(config.changesFeed.enabled, true);
  assert.equal(config.server.webhookSecret, undefined);
  assert.equal(config.queue.backend, 'sqlite');
  assert.equal(config.marking.urgentLvefBelowPct, 35);
  assert.deepEqual(config.routing.series.modalities, ['MR']);
  assert.equal(config.routing.series.minSlices, 3, 'the router and the reader share one set of series rules');
});

test('file, then environment, then flags: the later source wins, setting by setting', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pulse-config-'));
  try {
    const file = join(dir, 'pulse.json');
    writeFileSync(file, JSON.stringify({ orthanc: { url: 'http://file:8042', username: 'pulse' }, server: { port: 9000 }, dataDir: '/file', routing: { series: { minPhases: 10 } } }));
    const config = configFromFlags({ config: file, port: '9100' }, { PULSE_ORTHANC_URL: 'http://env:8042', PULSE_DATA_DIR: '/env', PULSE_PORT: '9050' });
    assert.equal(config.orthanc.url, 'http://env:8042');
    assert.equal(config.orthanc.username, 'pulse', 'a setting only the file gives survives');
    assert.equal(config.dataDir, '/env');
    assert.equal(config.server.port, 9100);
    assert.equal(config.routing.series.minPhases, 10);
    assert.equal(config.routing.series.minSlices, 3, 'defaults fill the rest of a partly given section');
    const fromFlags = configFromFlags({ config: file, orthanc: 'http://flag:8042', data: '/flag' }, { PULSE_ORTHANC_URL: 'http://env:8042' });
    assert.equal(fromFlags.orthanc.url, 'http://flag:8042');
    assert.equal(fromFlags.dataDir, '/flag');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('environment values are converted and a wrong one names its variable', () => {
  assert.deepEqual(configFromEnvironment({ PULSE_CHANGES_FEED: 'false', PULSE_ROUTING_MODALITIES: 'MR, CT', PULSE_URGENT_LVEF_BELOW: '40.5' }), {
    changesFeed: { enabled: false },
    routing: { series: { modalities: ['MR', 'CT'] } },
    marking: { urgentLvefBelowPct: 40.5 },
  });
  assert.throws(() => configFromEnvironment({ PULSE_PORT: 'eighty' }), /PULSE_PORT must be an integer/);
  assert.throws(() => configFromEnvironment({ PULSE_CHANGES_FEED: 'maybe' }), /PULSE_CHANGES_FEED/);
});

test('an invalid setting is refused with its path', () => {
  assert.throws(() => loadConfig({ overrides: { routing: { studyDescription: '(' } } }), /routing\.studyDescription: not a valid regular expression/);
  assert.throws(() => loadConfig({ overrides: { server: { port: 70000 } } }), /server\.port/);
  assert.throws(() => loadConfig({ env: { PULSE_WEBHOOK_SECRET: 'short' } }), /server\.webhookSecret/);
  assert.throws(() => loadConfig({ file: '/nonexistent/pulse.json' }), /configuration file \/nonexistent\/pulse\.json cannot be read/);
});

test('onnxruntime threads per study default to one and come from model.threads (PULSE_MODEL_THREADS)', () => {
  assert.equal(loadConfig({ env: {} }).model.threads, 1);
  assert.equal(loadConfig({ env: { PULSE_MODEL_THREADS: '2' } }).model.threads, 2);
  assert.throws(() => loadConfig({ env: { PULSE_MODEL_THREADS: '0' } }), /model\.threads/);
});

test('every environment variable sets the setting it names', () => {
  const samples: Record<string, string> = {
    PULSE_ORTHANC_URL: 'http://orthanc:8042', PULSE_WEBHOOK_SECRET: 'a-long-secret', PULSE_LOG_LEVEL: 'debug',
    PULSE_CHANGES_START_FROM: 'now', PULSE_CHANGES_FEED: 'false', PULSE_CONCURRENCY: '3', PULSE_PORT: '8099',
    PULSE_LEASE_MS: '5000', PULSE_MAX_ATTEMPTS: '4', PULSE_ROUTING_MODALITIES: 'MR,CT', PULSE_ROUTING_CALLING_AETS: 'SCANNER1',
    PULSE_URGENT_LVEF_BELOW: '40', PULSE_ORTHANC_TIMEOUT_MS: '1000', PULSE_CHANGES_POLL_MS: '250', PULSE_QUEUE_POLL_MS: '250',
    PULSE_BACKOFF_BASE_MS: '100', PULSE_BACKOFF_MAX_MS: '1000', PULSE_HOST: '127.0.0.2',
    PULSE_VIEWER_TOKENS: 'viewer-token-aaaaaaaaaaaa,viewer-token-bbbbbbbbbbbb', PULSE_ADMIN_TOKENS: 'admin-token-cccccccccccc',
    PULSE_RATE_LIMIT_READS: '100', PULSE_RATE_LIMIT_WRITES: '10', PULSE_VIEWER_URL: 'http://localhost:3000/viewer?StudyInstanceUIDs={StudyInstanceUID}',
    PULSE_RETRY_BUDGET_MS: '3600000', PULSE_MAX_STUDY_INSTANCES: '100', PULSE_MAX_STUDY_BYTES: '1000000', PULSE_MAX_STUDY_PIXELS: '5000000',
    PULSE_QUEUE_BACKEND: 'sqlite', PULSE_QUEUE_POSTGRES_URL: 'postgres://pulse:pw@db:5432/pulse', PULSE_QUEUE_POSTGRES_SCHEMA: 'pulse_b', PULSE_QUEUE_POSTGRES_POOL_SIZE: '8',
    PULSE_VIEWER_OHIF: 'true', PULSE_VIEWER_OHIF_DIST: '/opt/ohif',
    PULSE_REPORT_PDF: 'true', PULSE_SEG_ON_QC_FAIL: 'false', PULSE_VIEWER_PHASE_SERIES: 'true', PULSE_FHIR_URL: 'http://127.0.0.1:9000/fhir', PULSE_FHIR_SECRET: 'fhir-secret-xyz', PULSE_FHIR_ATTEMPTS: '3',
    PULSE_FHIR_REDELIVER_EVERY_S: '60', PULSE_FHIR_KEEP_UNDELIVERED_H: '24',
    PULSE_MODEL_TTA: 'flips',
    PULSE_MODEL_THREADS: '2',
  };
  for (const variable of ENVIRONMENT) {
    const text = samples[variable.name] ?? 'value-x';
    const config = loadConfig({ env: { [variable.name]: text } }) as unknown as Record<string, unknown>;
    const value = variable.path.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], config);
    const expected = variable.kind === 'list' ? text.split(',') : variable.kind === 'boolean' ? text === 'true' : variable.kind === 'string' ? text : Number(text);
    assert.deepEqual(value, expected, `${variable.name} -> ${variable.path}`);
  }
});

test('test-time augmentation is off unless model.tta (PULSE_MODEL_TTA) asks for flips; other values are refused', () => {
  assert.equal(loadConfig().model.tta, 'none');
  assert.equal(loadConfig({ env: { PULSE_MODEL_TTA: 'flips' } }).model.tta, 'flips');
  assert.throws(() => loadConfig({ env: { PULSE_MODEL_TTA: 'rotations' } }), /model\.tta/);
});

test('the viewer phase series follow viewer.ohif unless reports.viewerPhaseSeries says otherwise', () => {
  const on = (input: Record<string, unknown>) => viewerPhaseSeriesOn(ConfigSchema.parse({ orthanc: { url: 'http://localhost:8042' }, ...input }));
  assert.equal(on({}), false, 'no OHIF served: no duplicate series for the other readers');
  assert.equal(on({ viewer: { ohif: true } }), true, 'OHIF served (pulse demo): the copies it needs');
  assert.equal(on({ viewer: { ohif: true }, reports: { viewerPhaseSeries: false } }), false);
  assert.equal(on({ reports: { viewerPhaseSeries: true } }), true, 'for an OHIF served elsewhere (docker-compose)');
});
