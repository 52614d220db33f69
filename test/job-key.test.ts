import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isJobForModel, jobModelKey } from '../src/service/job-key.js';

const model = { name: 'pulse-lite', version: '1.2.0', calibration: null };

test('the job key is the model plus the calibrations in force, so activating one makes an arriving study a new job', () => {
  assert.equal(jobModelKey({ model }), 'pulse-lite@1.2.0');
  assert.equal(jobModelKey({ model, activeCalibrations: () => [] }), 'pulse-lite@1.2.0');
  assert.equal(jobModelKey({ model, activeCalibrations: () => [{ id: 'site-b-1' }, { id: 'site-a-3' }, { id: 'site-b-1' }] }), 'pulse-lite@1.2.0+site-a-3,site-b-1', 'sorted, once each');
});

test('a job is run by a service of its bare model whatever the calibrations, never by another model or version', () => {
  assert.equal(isJobForModel('pulse-lite@1.2.0', 'pulse-lite@1.2.0'), true);
  assert.equal(isJobForModel('pulse-lite@1.2.0+site-a-3', 'pulse-lite@1.2.0'), true);
  assert.equal(isJobForModel('pulse-lite@1.2.01', 'pulse-lite@1.2.0'), false);
  assert.equal(isJobForModel('pulse-lite@2.0.0+site-a-3', 'pulse-lite@1.2.0'), false);
});
