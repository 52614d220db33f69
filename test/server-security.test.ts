/**
 * The HTTP face locked down, against a real Orthanc (with authentication on) and the real service:
 * loopback unless authenticated, tokens and roles, JSON-only state changes (no CSRF), zod on every
 * parameter and body, bounded and deprioritised reprocessing, rate limits, no secret in any log
 * line, the OpenAPI document matching the mounted routes, and the probes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { ConfigSchema, type ConfigInput } from '../src/config/schema.js';
import { freePort } from '../src/orthanc/local-orthanc.js';
import { findStudyId } from '../src/orthanc/metadata.js';
import { OrthancRestClient } from '../src/orthanc/rest-client.js';
import { createLogger } from '../src/service/logger.js';
import { startService, type RunningService } from '../src/service/service.js';
import { USER_METADATA_DECLARATION } from '../src/service/marking.js';
import { mountedRoutes } from '../src/server/app.js';
import { startTestOrthanc, type RunningOrthanc } from './support/orthanc.js';
import { makeCineStudy, standInProcessor, uploadStudy, waitFor } from './service-support.js';

const ORTHANC_PASSWORD = 'orthanc-pw-s3cret-9f2c';
const VIEWER = 'viewer-token-0123456789abcdef';
const ADMIN = 'admin-token-fedcba9876543210xyz';
const WEBHOOK = 'webhook-secret-5a5a5a5a';
const SECRETS = [ORTHANC_PASSWORD, VIEWER, ADMIN, WEBHOOK];

/** A logger whose JSON lines the test reads back. */
function capturingLogger(): { logger: ReturnType<typeof createLogger>; lines: string[] } {
  const stream = new PassThrough();
  const lines: string[] = [];
  stream.on('data', (chunk: Buffer) => lines.push(...chunk.toString('utf8').split('\n').filter((l) => l.length > 0)));
  return { logger: createLogger('debug', { stream }), lines };
}

interface Setup {
  orthanc: RunningOrthanc;
  service: RunningService;
  dataDir: string;
  lines: string[];
  studies: string[];
}

async function setup(config: ConfigInput = {}): Promise<Setup> {
  const orthanc = await startTestOrthanc({ users: { pulse: ORTHANC_PASSWORD }, userMetadata: USER_METADATA_DECLARATION });
  const client = new OrthancRestClient({ url: orthanc.url, username: 'pulse', password: ORTHANC_PASSWORD });
  const studies: string[] = [];
  for (const seed of [1, 2, 3, 4]) {
    const study = makeCineStudy(700 + seed, { slices: 3, phases: 2 });
    await uploadStudy(client, study);
    studies.push(study.studyInstanceUID);
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'pulse-security-'));
  const { logger, lines } = capturingLogger();
  const url = new URL(orthanc.url);
  const service = await startService({
    config: ConfigSchema.parse({
      ...config,
      // Credentials written into the URL, as a site might: they must never be printed.
      orthanc: { url: `http://pulse:${ORTHANC_PASSWORD}@${url.host}`, timeoutMs: 5000 },
      dataDir,
      server: { port: 0, webhookSecret: WEBHOOK, auth: { viewerTokens: [VIEWER], adminTokens: [ADMIN] }, ...config.server },
      changesFeed: { enabled: false },
      queue: { pollIntervalMs: 200 },
    }),
    processor: standInProcessor(),
    logger,
  });
  // The worker stays off: queued jobs stay queued, so the queue's order and bounds can be read.
  await service.worker.stop(1000);
  return { orthanc, service, dataDir, lines, studies };
}

async function teardown(s: Setup | undefined): Promise<void> {
  if (!s) return;
  await s.service.stop(1000);
  await s.orthanc.stop();
  rmSync(s.dataDir, { recursive: true, force: true });
}

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const json = { 'Content-Type': 'application/json' };

/** A request with the path sent exactly as written (fetch would resolve `..`). */
function rawRequest(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname, port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

interface OpenApi {
  openapi: string;
  paths: Record<string, Record<string, { 'x-pulse-role': string; requestBody?: unknown }>>;
}

/** Each documented operation with its parameters filled with valid-looking values. */
function operations(doc: OpenApi, uid: string): Array<{ method: string; path: string; role: string }> {
  return Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({ method: method.toUpperCase(), path: path.replace('{uid}', uid).replace('{id}', '1').replace('{phase}', 'ed'), role: op['x-pulse-role'] })),
  );
}

test('another address than loopback without a token refuses to start, naming the setting', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'pulse-security-'));
  try {
    const config = ConfigSchema.parse({ dataDir, server: { host: '0.0.0.0', port: 0 }, changesFeed: { enabled: false } });
    await assert.rejects(startService({ config, processor: standInProcessor(), logger: createLogger('error', { silent: true }) }), /refusing to start: .*server\.auth\.adminTokens/);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

describe('the locked-down HTTP face', () => {
  let s: Setup | undefined;
  let doc: OpenApi;
  before(async () => {
    s = await setup({ server: { rateLimit: { writes: 200 } } });
    doc = (await (await fetch(`${s.service.url}/openapi.json`)).json()) as OpenApi;
  });
  after(() => teardown(s));

  test('the service binds to 127.0.0.1 by default', () => {
    assert.match(s!.service.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  });

  test('the OpenAPI document lists exactly the mounted routes', () => {
    assert.equal(doc.openapi, '3.1.0');
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`)).sort();
    // Read from express's own router, not from the table the document is written from.
    const mounted = mountedRoutes(s!.service.app).map((r) => `${r.method} ${r.path.replace(/:([A-Za-z_]+)/g, '{$1}')}`).sort();
    assert.deepEqual(documented, mounted);
  });

  test('every route but the probes and the document refuses a request without a token', async () => {
    const checked: string[] = [];
    for (const op of operations(doc, s!.studies[0]!)) {
      const res = await fetch(`${s!.service.url}${op.path}`, { method: op.method, headers: op.method === 'GET' ? {} : json, body: op.method === 'GET' ? undefined : '{}' });
      if (op.role === 'public') {
        assert.notEqual(res.status, 401, `${op.method} ${op.path}`);
        continue;
      }
      assert.equal(res.status, 401, `${op.method} ${op.path} without a token`);
      // Pages answer with the sign-in form, the API with a JSON error.
      const text = await res.text();
      if (res.headers.get('content-type')?.startsWith('text/html')) assert.match(text, /<form id="sign-in"/);
      else assert.match((JSON.parse(text) as { error: string }).error, op.role === 'webhook' ? /X-Pulse-Secret/ : /token/);
      checked.push(`${op.method} ${op.path}`);
      // A wrong token is no better than none.
      const wrong = await fetch(`${s!.service.url}${op.path}`, { method: op.method, headers: { ...json, ...bearer('not-a-valid-token-at-all') }, body: op.method === 'GET' ? undefined : '{}' });
      if (op.role !== 'webhook') assert.equal(wrong.status, 401, `${op.method} ${op.path} with a wrong token`);
    }
    assert.ok(checked.length >= 7, checked.join(', '));
    for (const path of ['/healthz', '/readyz', '/openapi.json']) assert.equal((await fetch(`${s!.service.url}${path}`)).status, 200, path);
  });

  test('a viewer token reads but is refused on every admin route', async () => {
    assert.equal((await fetch(`${s!.service.url}/api/jobs`, { headers: bearer(VIEWER) })).status, 200);
    assert.equal((await fetch(`${s!.service.url}/metrics`, { headers: bearer(VIEWER) })).status, 200);
    const admin = operations(doc, s!.studies[0]!).filter((op) => op.role === 'admin');
    assert.ok(admin.length >= 2);
    for (const op of admin) {
      const res = await fetch(`${s!.service.url}${op.path}`, { method: op.method, headers: { ...json, ...bearer(VIEWER) }, body: '{}' });
      assert.equal(res.status, 403, `${op.method} ${op.path}`);
    }
  });

  test('state changes need JSON: a cross-origin text/plain POST (CSRF) is refused even with a token', async () => {
    const path = `/api/studies/${s!.studies[0]}/reprocess`;
    // What a hostile page can send without a preflight: text/plain, with its own Origin.
    const csrf = await fetch(`${s!.service.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'text/plain', Origin: 'http://evil.example' }, body: '{}' });
    assert.equal(csrf.status, 401);
    const plain = await fetch(`${s!.service.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'text/plain', ...bearer(ADMIN) }, body: '{}' });
    assert.equal(plain.status, 415);
    const form = await fetch(`${s!.service.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...bearer(ADMIN) }, body: 'a=1' });
    assert.equal(form.status, 415);
    const crossOrigin = await fetch(`${s!.service.url}${path}`, { method: 'POST', headers: { ...json, ...bearer(ADMIN), Origin: 'http://evil.example' }, body: '{}' });
    assert.equal(crossOrigin.status, 403);
    assert.equal((await s!.service.store.findByStudy(s!.studies[0]!)).length, 0, 'nothing was queued');
  });

  test('oversized and malformed bodies get a 4xx that says what is wrong, never a stack trace', async () => {
    const path = `/api/studies/${s!.studies[0]}/reprocess`;
    const headers = { ...json, ...bearer(ADMIN) };
    const big = await fetch(`${s!.service.url}${path}`, { method: 'POST', headers, body: JSON.stringify({ note: 'x'.repeat(64 * 1024) }) });
    assert.equal(big.status, 413);
    const malformed = await fetch(`${s!.service.url}${path}`, { method: 'POST', headers, body: '{"note": ' });
    assert.equal(malformed.status, 400);
    const malformedText = await malformed.text();
    assert.match(malformedText, /not valid JSON/);
    const unknown = await fetch(`${s!.service.url}${path}`, { method: 'POST', headers, body: '{"priority": 100}' });
    assert.equal(unknown.status, 400);
    assert.match(((await unknown.json()) as { error: string }).error, /body.*priority/i);
    const badQuery = await fetch(`${s!.service.url}/api/jobs?limit=abc&state=done`, { headers: bearer(VIEWER) });
    assert.equal(badQuery.status, 400);
    assert.match(((await badQuery.json()) as { error: string }).error, /limit/);
    for (const text of [malformedText, await big.text()]) assert.doesNotMatch(text, /\n\s+at |node_modules|\.js:\d+/);
  });

  test('path traversal, malformed and over-long UIDs are refused with 400', async () => {
    const headers = { ...json, ...bearer(ADMIN) };
    for (const uid of ['..', '%2e%2e', '..%2F..%2Fetc', '1.2..3', '.1.2', '1.2.', '1.2.a', '1%2F2', `1.${'2'.repeat(63)}`]) {
      const res = await rawRequest(s!.service.url, 'POST', `/api/studies/${uid}/reprocess`, headers, '{}');
      assert.equal(res.status, 400, `${uid}: ${res.body}`);
      assert.match(res.body, /UID/);
    }
    const traversal = await rawRequest(s!.service.url, 'GET', '/api/jobs/..%2F..%2Fetc%2Fpasswd', bearer(VIEWER));
    assert.equal(traversal.status, 400);
    assert.equal((await rawRequest(s!.service.url, 'GET', '/api/jobs/../../etc/passwd', bearer(VIEWER))).status, 404);
  });

  test('reprocessing a study Orthanc does not hold is refused and leaves no job behind', async () => {
    const before = (await s!.service.store.list({ limit: 1000 })).length;
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${s!.service.url}/api/studies/1.2.826.0.1.3680043.99.${i}/reprocess`, { method: 'POST', headers: { ...json, ...bearer(ADMIN) }, body: '{}' });
      assert.equal(res.status, 404);
    }
    assert.equal((await s!.service.store.list({ limit: 1000 })).length, before, 'no row for a made-up UID');
  });

  test('reprocessing waits behind new studies, and only so many requests may wait', async () => {
    const headers = { ...json, ...bearer(ADMIN) };
    const store = s!.service.store;
    const [a, b, c, d] = s!.studies as [string, string, string, string];
    for (const uid of [a, b]) assert.equal((await fetch(`${s!.service.url}/api/studies/${uid}/reprocess`, { method: 'POST', headers, body: '{}' })).status, 202);
    // A new study arrives after the reprocessing requests (the webhook path).
    const orthancId = (await findStudyId(new OrthancRestClient({ url: s!.orthanc.url, username: 'pulse', password: ORTHANC_PASSWORD }), c))!;
    const hook = await fetch(`${s!.service.url}/webhook/stable-study`, { method: 'POST', headers: { ...json, 'X-Pulse-Secret': WEBHOOK }, body: JSON.stringify({ orthancStudyId: orthancId, studyInstanceUID: c }) });
    assert.equal(hook.status, 202);
    const first = (await store.claim('test', 60_000));
    assert.equal(first?.studyInstanceUID, c, 'the new study is claimed before the reprocessing requests');
    assert.equal((await store.claim('test', 60_000))?.studyInstanceUID, a);
    assert.equal((await store.claim('test', 60_000))?.studyInstanceUID, b);
    assert.ok((await s!.service.store.releaseOwner('test')) === 3);
    // Two reprocessing requests wait now (a, b); with a bound of 2 a third is refused.
    const bounded = await setupBound();
    try {
      const [x, y, z] = bounded.studies as [string, string, string];
      for (const uid of [x, y]) assert.equal((await fetch(`${bounded.service.url}/api/studies/${uid}/reprocess`, { method: 'POST', headers, body: '{}' })).status, 202);
      const third = await fetch(`${bounded.service.url}/api/studies/${z}/reprocess`, { method: 'POST', headers, body: '{}' });
      assert.equal(third.status, 429);
      assert.match(((await third.json()) as { error: string }).error, /maxQueuedReprocess/);
    } finally {
      await teardown(bounded);
    }
    void d;
  });

  test('metrics: queue depth, stage histograms, failures by reason, the active model', async () => {
    const text = await (await fetch(`${s!.service.url}/metrics`, { headers: bearer(VIEWER) })).text();
    assert.match(text, /^pulse_queue_depth \d+$/m);
    assert.match(text, /# TYPE pulse_job_stage_duration_seconds histogram/);
    assert.match(text, /# TYPE pulse_job_failures_total counter/);
    assert.match(text, /pulse_model_info\{name="stand-in",version="1.0.0",calibration=""\} 1/);
  });

  test('readiness names each check; helmet headers are set', async () => {
    const res = await fetch(`${s!.service.url}/readyz`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { ready: boolean; checks: Record<string, { ok: boolean }> };
    assert.deepEqual(Object.keys(body.checks).sort(), ['marking', 'model', 'orthanc', 'queue']);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    assert.equal(res.headers.get('x-powered-by'), null);
  });

  test('300 rapid requests from one address hit the rate limit; the probes stay open', async () => {
    const statuses: number[] = [];
    for (let batch = 0; batch < 30; batch++) {
      const answers = await Promise.all(Array.from({ length: 10 }, () => fetch(`${s!.service.url}/api/jobs?limit=1`, { headers: bearer(VIEWER) })));
      for (const res of answers) {
        statuses.push(res.status);
        await res.arrayBuffer();
      }
    }
    assert.equal(statuses.length, 300);
    const limited = statuses.filter((st) => st === 429).length;
    assert.ok(limited >= 300 - 240, `${limited} of 300 limited`);
    assert.ok(statuses.filter((st) => st === 200).length <= 240);
    assert.equal((await fetch(`${s!.service.url}/healthz`)).status, 200);
  });

  test('no secret appears in any log line', () => {
    assert.ok(s!.lines.length >= 3, 'the service logged');
    for (const line of s!.lines) for (const secret of SECRETS) assert.ok(!line.includes(secret), `a log line holds a secret: ${line}`);
    assert.ok(s!.lines.some((l) => l.includes('reprocessing asked')));
  });

  /** A second service on the same Orthanc with room for two waiting reprocessing requests. */
  async function setupBound(): Promise<Setup & { studies: string[] }> {
    const dataDir = mkdtempSync(join(tmpdir(), 'pulse-security-'));
    const url = new URL(s!.orthanc.url);
    const service = await startService({
      config: ConfigSchema.parse({
        orthanc: { url: `http://127.0.0.1:${url.port}`, username: 'pulse', password: ORTHANC_PASSWORD },
        dataDir,
        server: { port: 0, maxQueuedReprocess: 2, auth: { adminTokens: [ADMIN] } },
        changesFeed: { enabled: false },
      }),
      processor: standInProcessor(),
      logger: createLogger('error', { silent: true }),
    });
    await service.worker.stop(1000);
    return { orthanc: { stop: async () => undefined } as unknown as RunningOrthanc, service, dataDir, lines: [], studies: s!.studies };
  }
});

test('Orthanc credentials in the URL never reach a log line, an error or /readyz, even when Orthanc is down', async () => {
  const deadPort = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'pulse-security-'));
  const { logger, lines } = capturingLogger();
  const service = await startService({
    config: ConfigSchema.parse({
      orthanc: { url: `http://pulse:${ORTHANC_PASSWORD}@127.0.0.1:${deadPort}`, timeoutMs: 500 },
      dataDir,
      server: { port: 0 },
      changesFeed: { enabled: true, pollIntervalMs: 100 },
    }),
    processor: standInProcessor(),
    logger,
  });
  try {
    await waitFor('a retry warning', async () => lines.some((l) => l.includes('cannot read Orthanc changes feed')), 10_000);
    const ready = await fetch(`${service.url}/readyz`);
    assert.equal(ready.status, 503);
    const body = await ready.text();
    assert.match(body, /Orthanc unreachable/);
    for (const text of [...lines, body]) assert.ok(!text.includes(ORTHANC_PASSWORD), text);
    assert.ok(lines.some((l) => l.includes(`127.0.0.1:${deadPort}`)), 'the URL itself is still shown');
  } finally {
    await service.stop(1000);
    rmSync(dataDir, { recursive: true, force: true });
  }
});
