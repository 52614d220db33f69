import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../src/config/load.js';
import { processorOptionsOf } from '../src/service/pipeline-processor.js';

test('the service configuration reaches the pipeline processor: test-time flips, threads, viewer copies and FHIR', () => {
  const config = loadConfig({ env: { PULSE_MODEL_TTA: 'flips', PULSE_MODEL_THREADS: '2', PULSE_VIEWER_OHIF: 'true', PULSE_FHIR_URL: 'http://127.0.0.1:9/fhir' } });
  const options = processorOptionsOf(config);
  assert.equal(options.tta, 'flips');
  assert.equal(options.threads, 2);
  assert.equal(options.viewerPhaseSeries, true, 'viewer phase series follow viewer.ohif when not set');
  assert.equal(options.fhir, true);
});

test('by default the processor runs without test-time augmentation, FHIR or viewer copies', () => {
  const options = processorOptionsOf(loadConfig({ env: {} }));
  assert.equal(options.tta, 'none');
  assert.equal(options.fhir, false);
  assert.equal(options.viewerPhaseSeries, false);
  assert.equal(options.segOnQcFail, true);
});
