/**
 * No patient-identifying data leaves the service in its logs, its job API, its dashboard or its
 * metrics: not for a processed study, and not for one that fails. Runs the compiled CLI with the
 * real pipeline and the bundled model against a real Orthanc.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../src/orthanc/local-orthanc.js';
import { OrthancRestClient } from '../src/orthanc/rest-client.js';
import { USER_METADATA_DECLARATION } from '../src/service/marking.js';
import { generateStudy } from '../src/synth/index.js';
import type { Job } from '../src/queue/job-store.js';
import { startTestOrthanc } from './support/orthanc.js';
import { bundledManifest, projectRoot, pulseBin } from './support/paths.js';
import { waitFor } from './service-support.js';

const built = existsSync(join(projectRoot, 'dist', 'src', 'cli', 'main.js'));

test('logs, job API, dashboard and metrics carry no patient name, ID, birth date or accession number', { skip: built && existsSync(bundledManifest) ? false : 'build first and ship the model' }, async () => {
  const orthanc = await startTestOrthanc({ stableAgeSeconds: 1, userMetadata: USER_METADATA_DECLARATION });
  const dataDir = mkdtempSync(join(tmpdir(), 'pulse-privacy-'));
  const port = await freePort();
  let output = '';
  const child = spawn(process.execPath, [pulseBin, 'serve', '--orthanc', orthanc.url, '--data', dataDir, '--port', String(port)], {
    env: { ...process.env, PULSE_QUEUE_POLL_MS: '200', PULSE_CHANGES_POLL_MS: '200', PULSE_LOG_LEVEL: 'debug' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  try {
    const client = new OrthancRestClient({ url: orthanc.url });
    const good = generateStudy({ seed: 41, group: 'NOR', slices: 5, phases: 6 });
    // A second study with a single slice: the service cannot process it, and its reason must stay anonymous too.
    const broken = generateStudy({ seed: 42, group: 'DCM', slices: 4, phases: 3 });
    for (const f of good.files) await client.uploadInstance(f.bytes);
    for (const f of broken.files.filter((f) => f.name.startsWith('s00-'))) await client.uploadInstance(f.bytes);

    const identifying = [good, broken].flatMap((s) => {
      const text = new TextDecoder().decode(s.files[0]!.bytes);
      const fields = ['SYNTH^' + String(s.truth.seed).padStart(4, '0')];
      for (const m of text.matchAll(/SYNTH-[A-Z0-9]+|SYN[0-9A-Z]{4,}|(?:19|20)[0-9]{2}0101/g)) fields.push(m[0]);
      return fields;
    });
    assert.ok(identifying.length >= 4, `found the identifying values to look for: ${identifying.join(', ')}`);

    const jobs = await waitFor('both studies finished', async () => {
      const res = await fetch(`http://127.0.0.1:${port}/api/jobs?limit=100`).catch(() => undefined);
      if (!res?.ok) return false;
      const list = ((await res.json()) as { jobs: Job[] }).jobs;
      return list.length === 2 && list.every((j) => j.state === 'done' || j.state === 'failed' || j.state === 'skipped') && list;
    }, 120_000, 300);
    const states = jobs.map((j) => j.state).sort();
    assert.equal(states[0], 'done');
    assert.match(states[1]!, /^(failed|skipped)$/);
    assert.ok(jobs.filter((j) => j.state !== 'done').every((j) => j.reason), 'the unprocessable study has its reason');

    const surfaces: Record<string, string> = {
      logs: output,
      api: JSON.stringify(jobs),
      dashboard: await (await fetch(`http://127.0.0.1:${port}/`)).text(),
      metrics: await (await fetch(`http://127.0.0.1:${port}/metrics`)).text(),
    };
    assert.ok(surfaces.logs!.includes('job done'), 'the service logged its work');
    for (const [where, text] of Object.entries(surfaces)) {
      for (const value of identifying) assert.ok(!text.includes(value), `${where} contains the patient-identifying value ${value}`);
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((done) => child.once('exit', done));
    await orthanc.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
