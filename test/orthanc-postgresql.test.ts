/**
 * The `scale` profile's Orthanc configuration, run for real: Debian's Orthanc with the
 * orthanc-postgresql plugins and the PostgreSQL section of orthanc-config/postgresql.json (its
 * host, port and credentials pointed at a temporary PostgreSQL 15), holding its index and DICOM files
 * in that database. A study stored survives an Orthanc restart on a fresh storage folder: it lives
 * in PostgreSQL, not on disk.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { OrthancRestClient } from '../src/orthanc/rest-client.js';
import { startTestOrthanc } from './support/orthanc.js';
import { startTestPostgres } from './support/postgres.js';
import { projectRoot } from './support/paths.js';
import { makeCineStudy, uploadStudy } from './service-support.js';

const PLUGIN_DIR = '/usr/share/orthanc/plugins';
const PG_PLUGINS = ['libOrthancPostgreSQLIndex.so', 'libOrthancPostgreSQLStorage.so'].map((p) => join(PLUGIN_DIR, p));
const installed = PG_PLUGINS.every((p) => existsSync(p));

test("the scale profile's Orthanc keeps its index and DICOM files in PostgreSQL", { skip: installed ? false : 'orthanc-postgresql not installed (scripts/setup.sh installs it)', timeout: 180_000 }, async () => {
  const profile = JSON.parse(readFileSync(join(projectRoot, 'orthanc-config', 'postgresql.json'), 'utf8')) as { Plugins: string[]; PostgreSQL: Record<string, unknown> };
  assert.deepEqual(profile.Plugins, [PLUGIN_DIR], 'the image loads every Debian plugin, the PostgreSQL ones included');
  assert.equal(profile.PostgreSQL.EnableIndex, true);
  assert.equal(profile.PostgreSQL.EnableStorage, true);
  const postgres = await startTestPostgres();
  const database = (url: string) => ({
    Plugins: ['libOrthancDicomWeb.so', 'libOrthancGdcm.so'].map((p) => join(PLUGIN_DIR, p)).concat(PG_PLUGINS),
    // The profile's section, pointed at the test's server (trust authentication on loopback).
    PostgreSQL: { ...profile.PostgreSQL, Host: '127.0.0.1', Port: new URL(url).port === '' ? 5432 : Number(new URL(url).port), Database: 'postgres', Username: 'pulse', Password: '' },
  });
  const study = makeCineStudy(950, { slices: 3, phases: 2 });
  try {
    let orthanc = await startTestOrthanc({ extraConfig: database(postgres.url) });
    try {
      const client = new OrthancRestClient({ url: orthanc.url });
      await uploadStudy(client, study);
      assert.equal((await client.getJson<string[]>('/instances')).length, study.files.length);
    } finally {
      await orthanc.stop();
    }
    const db = new pg.Client({ connectionString: postgres.url });
    await db.connect();
    try {
      const resources = await db.query<{ n: string }>("SELECT COUNT(*) AS n FROM resources WHERE resourcetype = 3");
      assert.equal(Number(resources.rows[0]!.n), study.files.length, 'the index is in PostgreSQL');
      const files = await db.query<{ n: string }>('SELECT COUNT(*) AS n FROM storagearea');
      assert.ok(Number(files.rows[0]!.n) >= study.files.length, 'the DICOM files are in PostgreSQL');
    } finally {
      await db.end();
    }
    // A new Orthanc with an empty storage folder finds the study in the database.
    orthanc = await startTestOrthanc({ extraConfig: database(postgres.url) });
    try {
      const client = new OrthancRestClient({ url: orthanc.url });
      const [found] = (await client.request('POST', '/tools/lookup', study.studyInstanceUID, 'text/plain')) as Array<{ ID: string }>;
      assert.ok(found, 'the study is found after the restart');
      const instances = await client.getJson<Array<{ ID: string }>>(`/studies/${found.ID}/instances`);
      assert.equal(instances.length, study.files.length);
      const bytes = await client.instanceFile(instances[0]!.ID);
      assert.ok(bytes.byteLength > 132 && new TextDecoder().decode(bytes.subarray(128, 132)) === 'DICM', 'a stored file reads back as DICOM');
    } finally {
      await orthanc.stop();
    }
  } finally {
    await postgres.stop();
  }
});
