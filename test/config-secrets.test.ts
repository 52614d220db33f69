/** Secrets in the configuration: from files (`*_FILE`), out of URLs, masked when shown, warned about on the command line. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configFromEnvironment } from '../src/config/environment.js';
import { loadConfig } from '../src/config/load.js';
import { createRedactor, redactUrlCredentials } from '../src/util/redact.js';
import { pulseBin } from './support/paths.js';

function withDir<T>(body: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'pulse-secrets-'));
  try {
    return body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('tokens and passwords come from *_FILE secret files, one token a line', () => {
  withDir((dir) => {
    writeFileSync(join(dir, 'admin'), 'admin-token-aaaaaaaaaaaaaaaa\nadmin-token-bbbbbbbbbbbbbbbb\n');
    writeFileSync(join(dir, 'password'), 'pw-from-file\n');
    const config = loadConfig({ env: { PULSE_ADMIN_TOKENS_FILE: join(dir, 'admin'), PULSE_ORTHANC_PASSWORD_FILE: join(dir, 'password'), PULSE_HOST: '0.0.0.0' } });
    assert.deepEqual(config.server.auth.adminTokens, ['admin-token-aaaaaaaaaaaaaaaa', 'admin-token-bbbbbbbbbbbbbbbb']);
    assert.equal(config.orthanc.password, 'pw-from-file');
    assert.throws(() => configFromEnvironment({ PULSE_ADMIN_TOKENS_FILE: join(dir, 'missing') }), /PULSE_ADMIN_TOKENS_FILE names .*missing, which cannot be read: ENOENT/);
    assert.throws(() => configFromEnvironment({ PULSE_ORTHANC_PASSWORD: 'x', PULSE_ORTHANC_PASSWORD_FILE: join(dir, 'password') }), /both set/);
  });
});

test('another address than loopback needs a token, and the error names the setting', () => {
  assert.throws(() => loadConfig({ env: { PULSE_HOST: '0.0.0.0' } }), /server\.auth\.adminTokens.*PULSE_ADMIN_TOKENS_FILE/);
  assert.equal(loadConfig({ env: { PULSE_HOST: '127.0.0.1' } }).server.host, '127.0.0.1');
  assert.equal(loadConfig({ env: { PULSE_HOST: '::1' } }).server.host, '::1');
  assert.throws(() => loadConfig({ env: { PULSE_ADMIN_TOKENS: 'short' } }), /16 to 256 printable characters/);
});

test('credentials written into the Orthanc URL move out of it', () => {
  const config = loadConfig({ env: { PULSE_ORTHANC_URL: 'http://pulse:pa%40ss@orthanc:8042' } });
  assert.equal(config.orthanc.url, 'http://orthanc:8042');
  assert.equal(config.orthanc.username, 'pulse');
  assert.equal(config.orthanc.password, 'pa@ss');
});

test('URL credentials and known secrets are redacted from any text', () => {
  assert.equal(redactUrlCredentials('GET http://u:p@h:8042/x failed; https://a@b/ too'), 'GET http://***@h:8042/x failed; https://***@b/ too');
  assert.equal(redactUrlCredentials('http://host:8042/studies/a@b'), 'http://host:8042/studies/a@b');
  const redact = createRedactor(['token-123456', undefined, 'ab']);
  assert.equal(redact('Bearer token-123456 and ab'), 'Bearer *** and ab');
});

test('`pulse config check` prints the effective configuration with secrets masked; invalid settings are named', () => {
  withDir((dir) => {
    writeFileSync(join(dir, 'admin'), 'admin-token-aaaaaaaaaaaaaaaa\n');
    const env = { ...process.env, PULSE_ADMIN_TOKENS_FILE: join(dir, 'admin'), PULSE_ORTHANC_URL: 'http://pulse:secret-pw@orthanc:8042', PULSE_HOST: '0.0.0.0' };
    const ok = spawnSync(process.execPath, [pulseBin, 'config', 'check', '--webhook-secret', 'webhook-secret-on-cli'], { env, encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stderr);
    const shown = JSON.parse(ok.stdout) as { orthanc: { url: string; password: string }; server: { webhookSecret: string; auth: { adminTokens: string[] } } };
    assert.equal(shown.orthanc.url, 'http://orthanc:8042');
    assert.equal(shown.orthanc.password, '***');
    assert.deepEqual(shown.server.auth.adminTokens, ['***']);
    assert.equal(shown.server.webhookSecret, '***');
    for (const secret of ['admin-token-aaaaaaaaaaaaaaaa', 'secret-pw', 'webhook-secret-on-cli']) assert.ok(!ok.stdout.includes(secret) && !ok.stderr.includes(secret), secret);
    assert.match(ok.stderr, /warning: --webhook-secret on the command line is visible .* PULSE_WEBHOOK_SECRET_FILE/);

    const inUrl = spawnSync(process.execPath, [pulseBin, 'config', 'check', '--orthanc', 'http://pulse:url-secret-pw@orthanc:8042'], { env: { ...process.env }, encoding: 'utf8' });
    assert.equal(inUrl.status, 0, inUrl.stderr);
    assert.match(inUrl.stderr, /--orthanc holds credentials/);
    assert.ok(!inUrl.stdout.includes('url-secret-pw') && !inUrl.stderr.includes('url-secret-pw'));

    const bad = spawnSync(process.execPath, [pulseBin, 'config', 'check'], { env: { ...process.env, PULSE_HOST: '0.0.0.0', PULSE_PORT: '99999' }, encoding: 'utf8' });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /server\.port/);
    assert.match(bad.stderr, /server\.auth\.adminTokens/);
  });
});

test('the PostgreSQL queue URL is a secret: read from PULSE_QUEUE_POSTGRES_URL_FILE, masked by config check, required with backend postgres', () => {
  withDir((dir) => {
    writeFileSync(join(dir, 'queue-url'), 'postgres://pulse:pg-secret-pw@db:5432/pulse\n');
    const env = { ...process.env, PULSE_QUEUE_BACKEND: 'postgres', PULSE_QUEUE_POSTGRES_URL_FILE: join(dir, 'queue-url') };
    const config = loadConfig({ env });
    assert.equal(config.queue.backend, 'postgres');
    assert.equal(config.queue.postgres.url, 'postgres://pulse:pg-secret-pw@db:5432/pulse');
    assert.equal(config.queue.postgres.schema, 'pulse');
    const ok = spawnSync(process.execPath, [pulseBin, 'config', 'check'], { env, encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stderr);
    const shown = JSON.parse(ok.stdout) as { queue: { backend: string; postgres: { url: string } } };
    assert.equal(shown.queue.backend, 'postgres');
    assert.equal(shown.queue.postgres.url, '***');
    assert.ok(!ok.stdout.includes('pg-secret-pw') && !ok.stderr.includes('pg-secret-pw'));

    const missing = spawnSync(process.execPath, [pulseBin, 'config', 'check'], { env: { ...process.env, PULSE_QUEUE_BACKEND: 'postgres' }, encoding: 'utf8' });
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /queue\.postgres\.url/);
    assert.throws(() => loadConfig({ env: { PULSE_QUEUE_BACKEND: 'mysql' } }), /queue\.backend/);
    assert.throws(() => loadConfig({ env: { PULSE_QUEUE_BACKEND: 'postgres', PULSE_QUEUE_POSTGRES_URL: 'postgres://db/pulse', PULSE_QUEUE_POSTGRES_SCHEMA: 'Pulse; DROP' } }), /queue\.postgres\.schema/);
  });
});
