import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pulseBin, sharedData } from './support/paths.js';
import { freePort } from '../src/orthanc/local-orthanc.js';
import { OrthancRestClient } from '../src/orthanc/rest-client.js';
import { UpstreamUnavailableError } from '../src/core/errors.js';

test('pulse demo runs Orthanc with the PULSE metadata, stores studies, and stops cleanly on Ctrl-C', { timeout: 120_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'pulse-demo-'));
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [pulseBin, 'demo', '--port', String(port), '--dicom-port', String(await freePort()), '--data-dir', dataDir, '--studies', '1', '--acdc', join(sharedData, 'acdc', 'training', 'patient001')],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  try {
    const deadline = Date.now() + 90_000;
    while (!stdout.includes('press Ctrl-C') && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 200));
    assert.match(stdout, /press Ctrl-C/, `demo did not come up: ${stdout}\n${stderr}`);
    assert.match(stdout, new RegExp(`Orthanc Explorer: +http://127\\.0\\.0\\.1:${port}/app/explorer\\.html`));
    assert.match(stdout, new RegExp(`DICOMweb root: +http://127\\.0\\.0\\.1:${port}/dicom-web`));

    const client = new OrthancRestClient({ url: `http://127.0.0.1:${port}` });
    const studies = await client.listStudies();
    assert.equal(studies.length, 2, 'one synthetic study and the ACDC patient are stored');
    assert.match(stdout, /synth-0001-NOR-cine-mri: \d+ instances/);
    assert.match(stdout, /ACDC-patient001: 20 instances/);
    // The user metadata the service needs is declared: writing and reading it back works.
    await client.request('PUT', `/studies/${studies[0]}/metadata/PulseStatus`, 'done', 'text/plain');
    const status = await client.send('GET', `/studies/${studies[0]}/metadata/PulseStatus`);
    assert.equal(await status.text(), 'done');

    child.kill('SIGINT');
    assert.equal(await exited, 0, stderr);
    assert.match(stdout, /stopped/);
    await assert.rejects(client.system(), UpstreamUnavailableError);
    assert.ok(existsSync(dataDir) && readdirSync(dataDir).length > 0, 'the storage persists after the demo stops');
  } finally {
    if (child.exitCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
});
