import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useOrthanc } from './support/orthanc.js';
import { pulseBin, sharedData } from './support/paths.js';
import { importAcdcPatient } from '../src/nifti/index.js';
import { OrthancRestClient } from '../src/orthanc/rest-client.js';

const orthanc = useOrthanc();

function pulse(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [pulseBin, ...args], { encoding: 'utf8' });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

test('pulse upload stores a folder recursively, skips a text file with a note, and is idempotent', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pulse-upload-'));
  try {
    const acdc = await importAcdcPatient(join(sharedData, 'acdc', 'training', 'patient003'), { labels: false });
    mkdirSync(join(dir, 'nested', 'deeper'), { recursive: true });
    const files = acdc.files.slice(0, 6);
    for (const [n, file] of files.entries()) writeFileSync(join(dir, n % 2 ? 'nested/deeper' : '.', file.name), file.bytes);
    writeFileSync(join(dir, 'nested', 'notes.txt'), 'not a DICOM file\n');

    const first = pulse('upload', '--orthanc', orthanc().url, dir);
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stdout, /skipped nested\/notes\.txt \(not a DICOM file/);
    assert.match(first.stdout, /6 stored, 0 already present, 1 skipped, 0 failed \(7 files, 1 studies\)/);
    const rest = new OrthancRestClient({ url: orthanc().url });
    const studies = await rest.listStudies();
    assert.equal(studies.length, 1);
    const series = await rest.listSeries(studies[0]!);
    assert.equal((await rest.listInstances(series[0]!)).length, 6);

    const second = pulse('upload', '--orthanc', orthanc().url, dir);
    assert.equal(second.status, 0, second.stderr);
    assert.match(second.stdout, /0 stored, 6 already present, 1 skipped, 0 failed/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('pulse upload exits non-zero when Orthanc rejects a file, and names it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pulse-upload-'));
  try {
    const broken = new Uint8Array(400);
    broken.set([0x44, 0x49, 0x43, 0x4d], 128); // "DICM" then garbage: looks like DICOM, is not
    broken.fill(0xff, 132);
    writeFileSync(join(dir, 'broken.dcm'), broken);
    const run = pulse('upload', '--orthanc', orthanc().url, dir);
    assert.equal(run.status, 1);
    assert.match(run.stdout, /failed broken\.dcm/);
    assert.match(run.stdout, /0 stored, 0 already present, 0 skipped, 1 failed/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('pulse upload to an Orthanc that is not running fails with one clear line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pulse-upload-'));
  try {
    const run = pulse('upload', '--orthanc', 'http://127.0.0.1:9', dir);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /^pulse: Orthanc at http:\/\/127\.0\.0\.1:9 is unreachable/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
