import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { startTestOrthanc } from './support/orthanc.js';
import { OrthancRestClient } from '../src/orthanc/rest-client.js';
import { UpstreamUnavailableError } from '../src/core/errors.js';

test('the harness starts a real Orthanc with DICOMweb and removes its storage after stop', async () => {
  const orthanc = await startTestOrthanc({ userMetadata: { PulseStatus: 1024 } });
  try {
    const system = await new OrthancRestClient({ url: orthanc.url }).system();
    assert.equal(system.Version, '1.10.1');
    assert.equal(system.HttpPort, orthanc.httpPort);
    const plugins = await new OrthancRestClient({ url: orthanc.url }).getJson<string[]>('/plugins');
    assert.ok(plugins.includes('dicom-web'), `plugins: ${plugins.join(', ')}`);
    assert.ok(existsSync(orthanc.storageDir));
  } finally {
    await orthanc.stop();
  }
  assert.equal(orthanc.running, false);
  assert.equal(existsSync(orthanc.storageDir), false, 'temporary storage removed');
  assert.equal(existsSync(orthanc.configPath), false, 'generated configuration removed');
});

test('two Orthancs run at once on different ports', async () => {
  const [a, b] = await Promise.all([startTestOrthanc(), startTestOrthanc()]);
  try {
    assert.notEqual(a.httpPort, b.httpPort);
    assert.notEqual(a.dicomPort, b.dicomPort);
    const [sa, sb] = await Promise.all([a, b].map((o) => new OrthancRestClient({ url: o.url }).system()));
    assert.equal(sa?.HttpPort, a.httpPort);
    assert.equal(sb?.HttpPort, b.httpPort);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});

test('stop then start again keeps the storage; a stopped Orthanc is reported as unavailable', async () => {
  const orthanc = await startTestOrthanc();
  const client = new OrthancRestClient({ url: orthanc.url, timeoutMs: 2000 });
  try {
    await orthanc.stop({ keepStorage: true });
    await assert.rejects(client.system(), UpstreamUnavailableError);
    assert.ok(existsSync(orthanc.storageDir));
    await orthanc.start();
    assert.equal((await client.system()).HttpPort, orthanc.httpPort);
  } finally {
    await orthanc.stop();
  }
});

test('a taken HTTP port falls back to a free one, or fails when strict', async () => {
  const first = await startTestOrthanc();
  try {
    const second = await startTestOrthanc({ httpPort: first.httpPort });
    try {
      assert.notEqual(second.httpPort, first.httpPort);
    } finally {
      await second.stop();
    }
    await assert.rejects(startTestOrthanc({ httpPort: first.httpPort, strictHttpPort: true }), /already in use/);
  } finally {
    await first.stop();
  }
});

test('a missing Orthanc executable is named in the error', async () => {
  await assert.rejects(startTestOrthanc({ executable: '/nonexistent/Orthanc' }), /Orthanc executable "\/nonexistent\/Orthanc" not found/);
});
