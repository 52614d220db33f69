/** Routing with site calibrations: the most specific matching one per study, modalities it opens, its model key. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigSchema } from '../src/config/schema.js';
import { routeStudy, type RoutableCalibration } from '../src/service/router.js';
import type { SeriesFacts, StudyFacts } from '../src/orthanc/study-facts.js';

const config = ConfigSchema.parse({});
const MODEL = 'pulse-lite@1.0.0';

function cine(overrides: Partial<SeriesFacts> = {}): SeriesFacts {
  const instances = [];
  for (let s = 0; s < 6; s++) for (let p = 0; p < 8; p++) instances.push({ orthancId: `i${s}-${p}`, imagePositionPatient: `0\\0\\${s * 8}` });
  return { orthancId: 'se1', seriesInstanceUID: '1.2.3.1', modality: 'MR', seriesDescription: 'cine SAX', bodyPartExamined: 'HEART', manufacturer: 'Acme', manufacturerModelName: 'Zeta', sopClassUID: '1.2.840.10008.5.1.4.1.1.4', instances, ...overrides };
}
const study = (series: SeriesFacts, metadata: Record<string, string> = {}): StudyFacts => ({ orthancId: 'st', studyInstanceUID: '1.2.3', studyDescription: 'heart', series: [series], metadata, institutionName: 'Clinic A' });
const calibration = (id: string, scope: RoutableCalibration['scope'], opens: string[] = ['MR'], sop: string[] = []): RoutableCalibration => ({ id, created: '2026-11-29T10:00:00Z', scope, opens: { modalities: opens, sopClassUIDs: sop } });

test('the most specific matching calibration is chosen and named in the decision', () => {
  const calibrations = [calibration('cal-a', { manufacturer: 'Acme' }), calibration('cal-b', { manufacturer: 'acme', manufacturerModelName: 'Zeta', institutionName: 'Clinic A' }), calibration('cal-c', { manufacturer: 'Other' })];
  const decision = routeStudy(study(cine()), { rules: config.routing, ownOutputs: config.ownOutputs, modelKey: MODEL, calibrations });
  assert.equal(decision.action, 'process');
  assert.equal(decision.action === 'process' && decision.calibration?.id, 'cal-b');
  assert.match(decision.reason, /calibration cal-b/);
});

test('no matching calibration: the bare model', () => {
  const decision = routeStudy(study(cine({ manufacturer: 'Else' })), { rules: config.routing, ownOutputs: config.ownOutputs, modelKey: MODEL, calibrations: [calibration('cal-a', { manufacturer: 'Acme' })] });
  assert.equal(decision.action === 'process' && decision.calibration, undefined);
});

test('an active calibration for US opens echo studies of its scope, and only those', () => {
  const echo = cine({ modality: 'US', manufacturer: 'EchoCo', sopClassUID: '1.2.840.10008.5.1.4.1.1.7' });
  const options = { rules: config.routing, ownOutputs: config.ownOutputs, modelKey: MODEL };
  assert.equal(routeStudy(study(echo), options).action, 'skip');
  const us = calibration('cal-us', { modality: 'US', manufacturer: 'EchoCo' }, ['US'], ['1.2.840.10008.5.1.4.1.1.7']);
  const decision = routeStudy(study(echo), { ...options, calibrations: [us] });
  assert.equal(decision.action === 'process' && decision.calibration?.id, 'cal-us');
  assert.equal(routeStudy(study({ ...echo, manufacturer: 'OtherEcho' }), { ...options, calibrations: [us] }).action, 'skip');
});

test('a study done with the bare model is processed again once a calibration applies; done with it, skipped', () => {
  const calibrations = [calibration('cal-a', { manufacturer: 'Acme' })];
  const options = { rules: config.routing, ownOutputs: config.ownOutputs, modelKey: MODEL, calibrations };
  assert.equal(routeStudy(study(cine(), { PulseStatus: 'done', PulseModel: MODEL }), options).action, 'process');
  const again = routeStudy(study(cine(), { PulseStatus: 'done', PulseModel: `${MODEL}+cal-a` }), options);
  assert.equal(again.action, 'skip');
  assert.match(again.reason, /already processed for pulse-lite@1\.0\.0\+cal-a/);
});
