/** The ModelRegistry: explicit state for manifests, sessions and site adapters; cancellation of a study run. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { ModelRegistry } from '../src/model/registry.js';
import { processStudy } from '../src/pipeline/process-study.js';
import { generateStudy } from '../src/synth/index.js';
import { bundledManifest } from './support/paths.js';

const models = new ModelRegistry<{ readonly weights: number[] }>();
after(() => models.close());

test('a registry reads a manifest once and shares one session per manifest and thread count', async () => {
  const manifest = models.manifest(bundledManifest);
  assert.equal(models.manifest(bundledManifest), manifest, 'the same manifest object');
  const [a, b] = await Promise.all([models.session(manifest, { threads: 1 }), models.session(manifest, { threads: 1 })]);
  assert.equal(a, b, 'one session for concurrent first uses');
  const loaded = await models.load(bundledManifest, 1);
  assert.equal(loaded.session, a);
  assert.equal(loaded.manifest, manifest);
  assert.notEqual(await models.session(manifest, { threads: 2 }), a, 'another thread count is another session');
  // One intra-op thread unless told otherwise (model/session.ts: a second thread cost CPU, not time).
  assert.equal(await models.session(manifest), a, 'no thread count is one thread');
  assert.equal((await models.load(bundledManifest)).session, a);
});

test('two registries share nothing: state is what is passed in', () => {
  const other = new ModelRegistry();
  assert.notEqual(other.manifest(bundledManifest), models.manifest(bundledManifest));
});

test('a registry keeps one site adapter per model and calibration', () => {
  const bare = { name: 'pulse-lite', version: '1.0.0', calibration: null };
  const site = { ...bare, calibration: 'site-a-1' };
  assert.equal(models.adapter(site), undefined);
  models.setAdapter(site, { weights: [1, 2] });
  assert.deepEqual(models.adapter(site), { weights: [1, 2] });
  assert.equal(models.adapter(bare), undefined, 'the bare model has no adapter');
  models.setAdapter(site, undefined);
  assert.equal(models.adapter(site), undefined);
});

test('a cancelled study run stops with the abort reason, not as bad input', async () => {
  const instances = generateStudy({ seed: 4, slices: 3, phases: 2 }).files.map((f) => ({ source: f.name, bytes: f.bytes }));
  const stop = new AbortController();
  stop.abort(new Error('worker stopping'));
  await assert.rejects(processStudy(instances, { models, manifestPath: bundledManifest, signal: stop.signal }), /worker stopping/);
});
