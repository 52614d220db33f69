/**
 * The manifest carries what quality control needs (issue 14 item 4): its QC reference pinned by
 * sha256 and the uncertainty procedure, both checked when the manifest is loaded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadManifest, sha256File } from '../src/model/manifest.js';
import { loadQcReference } from '../src/pipeline/steps.js';
import { manifestWithQcReference, runQcReference } from '../src/cli/commands/qc-reference.js';
import { readSplit } from '../src/cli/commands/eval.js';
import { bundledManifest, projectRoot } from './support/paths.js';

const bundled = JSON.parse(readFileSync(bundledManifest, 'utf8')) as Record<string, unknown> & { qualityControl: { reference: { file: string; sha256: string }; uncertainty: { transforms: string[] } } };
const bundledDir = join(bundledManifest, '..');

/** A model folder holding the bundled QC reference under `referenceName` and a manifest edited by `edit`. */
function modelFolder(edit: (m: typeof bundled) => void, referenceName = 'qc-reference.json'): { dir: string; manifest: string } {
  const dir = mkdtempSync(join(tmpdir(), 'pulse-manifest-qc-'));
  copyFileSync(join(bundledDir, bundled.qualityControl.reference.file), join(dir, referenceName));
  copyFileSync(join(bundledDir, 'model.onnx'), join(dir, 'model.onnx'));
  const m = structuredClone(bundled);
  edit(m);
  const manifest = join(dir, 'manifest.json');
  writeFileSync(manifest, JSON.stringify(m));
  return { dir, manifest };
}

test('the bundled manifest pins its QC reference by the hash of the shipped file and names the uncertainty procedure', () => {
  const manifest = loadManifest(bundledManifest);
  const qc = manifest.qualityControl!;
  assert.equal(qc.reference.sha256, sha256File(join(manifest.directory, qc.reference.file)));
  assert.equal(qc.uncertainty.procedure, 'test-time-flips');
  assert.deepEqual(qc.uncertainty.transforms, ['identity', 'flip-columns', 'flip-rows', 'transpose']);
  assert.ok(loadQcReference(manifest), 'the reference the manifest names is loaded');
});

test('a QC reference that changed without the manifest is refused at load, naming the file and both hashes', () => {
  const { dir, manifest } = modelFolder(() => {});
  try {
    assert.equal(loadManifest(manifest).qualityControl!.reference.file, 'qc-reference.json');
    writeFileSync(join(dir, 'qc-reference.json'), `${readFileSync(join(dir, 'qc-reference.json'), 'utf8')} `);
    assert.throws(() => loadManifest(manifest), (error: Error) => {
      assert.match(error.message, /qc-reference\.json has sha256 [0-9a-f]{64}, the manifest's qualityControl\.reference\.sha256 is [0-9a-f]{64}/);
      assert.ok(error.message.includes(manifest), 'names the manifest');
      return true;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a missing reference file, a malformed hash or a transform list without the identity first is a clear error', () => {
  const missing = modelFolder((m) => void (m.qualityControl.reference.file = 'other-reference.json'));
  const malformed = modelFolder((m) => void (m.qualityControl.reference.sha256 = 'ABC'));
  const order = modelFolder((m) => void (m.qualityControl.uncertainty.transforms = ['flip-rows', 'identity']));
  const unknown = modelFolder((m) => void (m.qualityControl.uncertainty.transforms = ['identity', 'rotate-45']));
  const limits = modelFolder((m) => void ((m.qualityControl.uncertainty as Record<string, unknown>).reviewAbove = { rv: 0.4, la: 0.3 }));
  try {
    assert.throws(() => loadManifest(missing.manifest), /qualityControl\.reference names other-reference\.json, which does not exist/);
    assert.throws(() => loadManifest(malformed.manifest), /qualityControl\.reference\.sha256: sha256 must be 64 lower-case hex digits/);
    assert.throws(() => loadManifest(order.manifest), /transforms must start with 'identity'/);
    assert.throws(() => loadManifest(unknown.manifest), /qualityControl\.uncertainty\.transforms\.1/);
    assert.throws(() => loadManifest(limits.manifest), /reviewAbove names la, not a segment key \(rv, myo, lv\)/);
  } finally {
    for (const f of [missing, malformed, order, unknown, limits]) rmSync(f.dir, { recursive: true, force: true });
  }
});

test('the reference is read from the file the manifest names; a manifest without the section still loads', () => {
  const renamed = modelFolder((m) => void (m.qualityControl.reference.file = 'embedding-statistics.json'), 'embedding-statistics.json');
  const older = modelFolder((m) => void delete (m as Partial<typeof bundled>).qualityControl);
  try {
    const reference = loadQcReference(loadManifest(renamed.manifest));
    assert.equal(reference?.embedding.dim, 128);
    const plain = loadManifest(older.manifest);
    assert.equal(plain.qualityControl, undefined);
    assert.ok(loadQcReference(plain), 'qc-reference.json beside a manifest without the section is still found by name');
  } finally {
    for (const f of [renamed, older]) rmSync(f.dir, { recursive: true, force: true });
  }
});

test('a new network dropped in beside the old QC reference is refused: the reference names the model.onnx it measured', () => {
  const { dir, manifest } = modelFolder(() => {});
  try {
    const loaded = loadManifest(manifest);
    const reference = loadQcReference(loaded);
    assert.equal(reference?.model.sha256, sha256File(join(dir, 'model.onnx')), 'the shipped reference names the shipped network');
    // Another export of the same architecture (the int8 variant's network) under the same name and version.
    copyFileSync(join(bundledDir, '..', 'pulse-lite-int8', 'model.onnx'), join(dir, 'model.onnx'));
    const other = mkdtempSync(join(tmpdir(), 'pulse-manifest-qc-')); // a fresh path: references are cached by path
    const moved = join(other, 'manifest.json');
    for (const f of ['manifest.json', 'qc-reference.json', 'model.onnx']) copyFileSync(join(dir, f), join(other, f));
    try {
      assert.throws(() => loadQcReference(loadManifest(moved)), (error: Error) => {
        assert.match(error.message, /qc-reference\.json holds the embedding statistics of another network \(it was computed with a model\.onnx of sha256 [0-9a-f]{64}; this one has [0-9a-f]{64}\): run `pulse qc-reference` for this model/);
        return true;
      });
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('`pulse qc-reference --update-manifest` pins the new reference and keeps, or adds without thresholds, the uncertainty block', () => {
  const { dir, manifest } = modelFolder((m) => void delete (m as Record<string, unknown>).qualityControl, 'new-reference.json');
  try {
    const raw = JSON.parse(readFileSync(manifest, 'utf8')) as Record<string, unknown>;
    const fresh = manifestWithQcReference(raw, 'new-reference.json', sha256File(join(dir, 'new-reference.json')), 'from 100 patients');
    writeFileSync(manifest, JSON.stringify(fresh));
    const loaded = loadManifest(manifest).qualityControl!;
    assert.equal(loaded.reference.file, 'new-reference.json');
    assert.equal(loaded.reference.description, 'from 100 patients');
    assert.deepEqual(loaded.uncertainty.transforms, bundled.qualityControl.uncertainty.transforms);
    assert.equal(loaded.uncertainty.reviewAbove, undefined, 'a new network has no disagreement thresholds until measured');
    const kept = manifestWithQcReference(bundled, 'new-reference.json', 'a'.repeat(64), 'x') as typeof bundled;
    assert.deepEqual(kept.qualityControl.uncertainty, bundled.qualityControl.uncertainty, 'an existing uncertainty block stays');
    assert.equal(kept.qualityControl.reference.sha256, 'a'.repeat(64));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("`--split all` is both lists of training/splits.json: the patients a network trained on all of them saw", () => {
  const all = readSplit('all');
  assert.equal(all.length, readSplit('train').length + readSplit('val').length);
  assert.equal(new Set(all).size, all.length);
  assert.deepEqual(all, [...all].sort());
});

test('`--update-manifest` with a reference written elsewhere than beside the manifest is refused before any inference', async () => {
  const elsewhere = mkdtempSync(join(tmpdir(), 'pulse-qc-elsewhere-'));
  try {
    await assert.rejects(
      runQcReference({ source: join(projectRoot, '..', 'shared', 'data', 'acdc', 'training'), split: 'val', out: join(elsewhere, 'qc-reference.json'), updateManifest: true }),
      /--update-manifest: .*qc-reference\.json is not beside .*manifest\.json/,
    );
    assert.equal(existsSync(join(elsewhere, 'qc-reference.json')), false, 'nothing written');
  } finally {
    rmSync(elsewhere, { recursive: true, force: true });
  }
});
