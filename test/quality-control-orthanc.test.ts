/**
 * Issue 11, end to end on a real Orthanc with the real pipeline: a study whose result is implausible
 * (the stack holds noise: no ventricle can be found) is marked qc-failed in result, SR, Orthanc
 * metadata and dashboard, states no diagnosis, and is never urgent; its SEG is still stored for a
 * person to inspect.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigSchema } from '../src/config/schema.js';
import { OrthancRestClient } from '../src/orthanc/rest-client.js';
import { createLogger } from '../src/service/logger.js';
import { USER_METADATA_DECLARATION } from '../src/service/marking.js';
import { createPipelineProcessor } from '../src/service/pipeline-processor.js';
import { startService } from '../src/service/service.js';
import { breakStudy } from '../src/synth/broken.js';
import { generateStudy } from '../src/synth/index.js';
import { startTestOrthanc } from './support/orthanc.js';
import { bundledManifest } from './support/paths.js';
import { dsrdump } from './support/validators.js';
import { seriesModalities, waitFor } from './service-support.js';

test('an implausible study is marked qc-failed in result, SR, metadata and dashboard, and is never urgent', { skip: existsSync(bundledManifest) ? false : 'the bundled model is missing' }, async () => {
  const processor = createPipelineProcessor();
  const orthanc = await startTestOrthanc({ stableAgeSeconds: 1, userMetadata: USER_METADATA_DECLARATION });
  const dataDir = mkdtempSync(join(tmpdir(), 'pulse-qc-e2e-'));
  // Urgent below 100 %: any plausible number would make it urgent, were a failed result allowed to.
  const config = ConfigSchema.parse({ orthanc: { url: orthanc.url }, dataDir, server: { port: 0 }, changesFeed: { pollIntervalMs: 200 }, queue: { pollIntervalMs: 200 }, marking: { urgentLvefBelowPct: 100 } });
  const service = await startService({ config, processor, logger: createLogger('error', { silent: true }) });
  try {
    const client = new OrthancRestClient({ url: orthanc.url });
    const intact = generateStudy({ seed: 61, group: 'NOR', slices: 6, phases: 8 });
    let studyId = '';
    for (const file of breakStudy(intact.files, 'noise', 61)) studyId = (await client.uploadInstance(file.bytes)).ParentStudy;
    const job = await waitFor('job finished', async () => {
      const j = (await service.store.findByStudy(intact.truth.studyInstanceUID))[0];
      return j !== undefined && ['done', 'failed', 'skipped'].includes(j.state) && j;
    }, 180_000);
    assert.equal(job.state, 'done', job.reason ?? '');
    assert.equal(job.outcome?.qc, 'fail');
    assert.equal(job.outcome?.diagnosis, undefined, 'no diagnosis in the outcome');
    assert.equal(job.outcome?.urgent, false);
    // SEG still written for inspection; SR written with the failure statement.
    assert.deepEqual(await seriesModalities(client, studyId), ['MR', 'SEG', 'SR']);
    const metadata = await client.getJson<Record<string, string>>(`/studies/${studyId}/metadata?expand`);
    assert.equal(metadata.PulseStatus, 'qc-failed');
    assert.equal(metadata.PulseDiagnosis, 'none');
    assert.equal(metadata.PulsePriority, 'routine');
    const series = await client.getJson<Array<{ MainDicomTags: { Modality: string }; Instances: string[] }>>(`/studies/${studyId}/series`);
    const srSeries = series.find((s) => s.MainDicomTags.Modality === 'SR')!;
    const tree = dsrdump(await client.instanceFile(srSeries.Instances[0]!), ['+Pc', '+Pl']);
    assert.match(tree, /111235,DCM,"Unusable - Quality renders image unusable"/);
    assert.match(tree, /Automated analysis failed quality control: no left-ventricular cavity was found/);
    assert.doesNotMatch(tree, /NUM=|Certainty of Finding/, 'no measurement and no diagnosis in the SR');
    const dashboard = await (await fetch(`${service.url}/`)).text();
    assert.match(dashboard, /QC FAILED/);
  } finally {
    await service.stop(1000);
    await orthanc.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
