/** Site calibration's pure core: the head, scope matching, the promotion rule and the store. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fitLinearHead, identityHead, linearHeadAdapter, upsampleTable, type HeadSamples } from '../src/calibration/head.js';
import { endToEndDecision, pickCalibration, promotionDecision, scopeMatches, sharedScope, DEFAULT_PROMOTION_RULE, type CalibrationProfile } from '../src/calibration/profile.js';
import { scoreEndToEnd, summariseEndToEnd } from '../src/calibration/cases.js';
import { CalibrationNotFoundError, CalibrationStore } from '../src/pipeline/calibration-store.js';

test('the identity head reproduces the bare logits exactly', () => {
  const F = 3, K = 4, rows = 8, columns = 8, h = 4, w = 4;
  const logits = Float32Array.from({ length: K * rows * columns }, (_, i) => Math.sin(i));
  const features = Float32Array.from({ length: F * h * w }, (_, i) => Math.cos(i) * 5);
  const out = Float32Array.from(logits);
  linearHeadAdapter(identityHead(F, K)).apply(out, features, [F, h, w], rows, columns);
  for (let i = 0; i < out.length; i++) assert.ok(Math.abs(out[i]! - logits[i]!) < 1e-5);
});

test('the head learns a class the bare logits miss when a feature separates it', () => {
  // Bare logits always say class 0; feature 0 says which pixels are class 1.
  const n = 400, F = 2, K = 2;
  const features = new Float32Array(n * F);
  const logits = new Float32Array(n * K);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 2;
    features[i * F] = labels[i] ? 1 + (i % 7) * 0.01 : -1 - (i % 5) * 0.01;
    features[i * F + 1] = (i % 3) - 1;
    logits[i * K] = 2;
  }
  const samples: HeadSamples = { count: n, features, logits, labels };
  const head = fitLinearHead(samples, F, K, { iterations: 200 });
  const adapter = linearHeadAdapter(head);
  // One 1x1 "image" per class: the feature grid equals the model grid.
  for (const [value, expected] of [[1.02, 1], [-1.02, 0]] as const) {
    const z = Float32Array.from([2, 0]);
    adapter.apply(z, Float32Array.from([value, 0]), [F, 1, 1], 1, 1);
    assert.equal(z[1]! > z[0]! ? 1 : 0, expected, `feature ${value}`);
  }
});

test('the head refuses samples of the wrong shape, naming them', () => {
  assert.throws(() => fitLinearHead({ count: 0, features: new Float32Array(0), logits: new Float32Array(0), labels: new Uint8Array(0) }, 2, 2), /at least one annotated pixel/);
  assert.throws(() => fitLinearHead({ count: 1, features: new Float32Array(2), logits: new Float32Array(2), labels: Uint8Array.from([5]) }, 2, 2), /samples\.labels\[0\]/);
});

test('feature upsampling uses half-pixel centres (align_corners false)', () => {
  const t = upsampleTable(4, 2);
  // model pixel 0 sits at feature coordinate -0.25 (clamped to 0); pixel 1 at 0.25.
  assert.deepEqual([...t.index], [0, 0, 0, 0]);
  assert.deepEqual([...t.weight].map((v) => Math.round(v * 100) / 100), [0, 0.25, 0.75, 1]);
});

test('scopes match case-insensitively; the most specific active calibration wins; none means the bare model', () => {
  const study = { modality: 'MR', manufacturer: 'Acme Medical', manufacturerModelName: 'Zeta 3T', seriesDescription: 'cine sax' };
  assert.ok(scopeMatches({ manufacturer: 'acme medical ' }, study));
  assert.ok(!scopeMatches({ manufacturer: 'Other' }, study));
  assert.ok(scopeMatches({ seriesDescription: '^cine' }, study));
  const broad = { id: 'a', created: '2026-01-02', scope: { modality: 'MR' } };
  const narrow = { id: 'b', created: '2026-01-01', scope: { modality: 'MR', manufacturer: 'Acme Medical' } };
  assert.equal(pickCalibration([broad, narrow], study)?.id, 'b');
  assert.equal(pickCalibration([broad, narrow], { modality: 'CT' }), undefined);
  assert.deepEqual(sharedScope([study, { ...study, manufacturerModelName: 'Other' }]), { modality: 'MR', manufacturer: 'Acme Medical' });
});

test('promotion needs the gain, and no structure harmed beyond the allowance', () => {
  const before = { dice: { lv: 0.8, myo: 0.6, rv: 0.4 }, lvefMae: 8 };
  assert.equal(promotionDecision(before, { dice: { lv: 0.9, myo: 0.7, rv: 0.6 }, lvefMae: 5 }, DEFAULT_PROMOTION_RULE).promoted, true);
  const harmed = promotionDecision(before, { dice: { lv: 0.95, myo: 0.55, rv: 0.7 }, lvefMae: 5 }, DEFAULT_PROMOTION_RULE);
  assert.equal(harmed.promoted, false);
  assert.match(harmed.reason, /MYO \(0\.600 -> 0\.550\)/);
  const flat = promotionDecision(before, { dice: { lv: 0.801, myo: 0.6, rv: 0.4 }, lvefMae: 8 }, DEFAULT_PROMOTION_RULE);
  assert.equal(flat.promoted, false);
  assert.match(flat.reason, /below the required 0\.01/);
  assert.equal(promotionDecision(before, { dice: { lv: 0.9, myo: 0.7, rv: 0.6 }, lvefMae: 12 }, DEFAULT_PROMOTION_RULE).promoted, false);
});

function profile(id: string, scope: CalibrationProfile['scope'], promoted = true): CalibrationProfile {
  return {
    format: 'pulse-calibration',
    formatVersion: 1,
    id,
    created: '2026-11-29T10:00:00.000Z',
    promoted,
    reason: promoted ? 'better' : 'not better',
    model: { name: 'pulse-lite', version: '1.0.0' },
    scope,
    opens: { modalities: ['MR'], sopClassUIDs: [] },
    k: 2,
    sourceStudies: ['0123456789abcdef'],
    annotation: { studies: 2, annotatedImages: 4, totalImagesOfAnnotatedPhases: 4, annotatedPhases: 2, studiesWithFullEdEs: 2 },
    metrics: null,
    parameters: { head: identityHead(2, 4), fit: {}, promotion: DEFAULT_PROMOTION_RULE },
    timingsMs: {},
  };
}

test('end to end: the pipeline\'s LV figures are scored against the reference\'s, and a calibration that worsens them beyond the margins is refused', () => {
  const reference = { lvedvMl: 150, lvesvMl: 60, lvefPct: 60 };
  const exact = scoreEndToEnd('a', reference, { lvedvMl: 150, lvesvMl: 60, lvefPct: 60 });
  assert.deepEqual(exact, { key: 'a', lvefError: 0, volumeError: 0 });
  const off = scoreEndToEnd('b', reference, { lvedvMl: 180, lvesvMl: 48, lvefPct: 73.3 });
  assert.ok(Math.abs(off.lvefError - 13.3) < 1e-9);
  assert.ok(Math.abs(off.volumeError - (0.2 + 0.2) / 2) < 1e-9);
  // No LV found: scored as the worst case, never left out (leaving it out would flatter the candidate).
  assert.deepEqual(scoreEndToEnd('c', reference, null), { key: 'c', lvefError: 60, volumeError: 1 });
  assert.equal(summariseEndToEnd([]), null);
  const before = summariseEndToEnd([exact, exact])!;
  assert.deepEqual(before, { studies: 2, lvefMae: 0, volumeError: 0 });
  const after = summariseEndToEnd([exact, off])!;
  assert.ok(Math.abs(after.lvefMae - 6.65) < 1e-9);

  const rule = DEFAULT_PROMOTION_RULE;
  const lvef = endToEndDecision(before, after, rule);
  assert.equal(lvef.promoted, false);
  assert.match(lvef.reason, /end to end .* LVEF MAE rises from 0\.0 to 6\.[67] points \(more than 1\)/);
  const volumes = endToEndDecision(before, { studies: 2, lvefMae: 0.5, volumeError: 0.08 }, rule);
  assert.equal(volumes.promoted, false);
  assert.match(volumes.reason, /LV volume error rises from 0 % to 8 %/);
  // Within the margins, or better: not refused.
  assert.equal(endToEndDecision(before, { studies: 2, lvefMae: 0.9, volumeError: 0.04 }, rule).promoted, true);
  assert.equal(endToEndDecision(after, before, rule).promoted, true);
  // The margins are the rule's.
  assert.equal(endToEndDecision(before, after, { ...rule, maxEndToEndLvefMaeIncrease: 10, maxEndToEndVolumeErrorIncrease: 0.5 }).promoted, true);
});

test('the store keeps every calibration; activation replaces the same scope; roll-back restores the previous set', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pulse-cal-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = new CalibrationStore(dir);
  const a = profile('cal-20261129-100000-aaaaaa', { manufacturer: 'Acme' });
  const b = profile('cal-20261129-110000-bbbbbb', { manufacturer: 'Acme' });
  const c = profile('cal-20261129-120000-cccccc', { manufacturer: 'Other' });
  const rejected = profile('cal-20261129-130000-dddddd', { manufacturer: 'Acme' }, false);
  for (const p of [a, b, c, rejected]) store.save(p);
  store.activate(a.id);
  store.activate(c.id);
  assert.deepEqual(store.state().active, [a.id, c.id]);
  store.activate(b.id); // same scope as a: a is retired
  assert.deepEqual(store.state().active, [c.id, b.id]);
  assert.equal(store.statusOf(rejected), 'rejected');
  assert.equal(store.statusOf(a), 'inactive');
  store.rollback();
  assert.deepEqual(store.state().active, [a.id, c.id]);
  store.rollback();
  assert.deepEqual(store.state().active, [a.id]);
  // A second store on the same folder (another process: the service) sees the change at once.
  assert.deepEqual(new CalibrationStore(dir).active({ name: 'pulse-lite', version: '1.0.0' }).map((p) => p.id), [a.id]);
  assert.deepEqual(new CalibrationStore(dir).active({ name: 'pulse-lite', version: '2.0.0' }), []);
  assert.equal(store.list().length, 4);
  assert.throws(() => store.get('cal-20261129-140000-eeeeee'), CalibrationNotFoundError);
  const broken = join(dir, 'broken.json');
  writeFileSync(broken, '{"format":"something else"}');
  assert.throws(() => store.get(broken), /not a pulse calibration/);
});
