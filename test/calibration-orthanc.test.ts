/**
 * Site calibration end to end on a real Orthanc, with the real pipeline and the bundled model:
 * annotated studies of a shifted scanner are uploaded (images + a MANUAL reference SEG), a
 * calibration is asked for through the API, promoted, and a fresh study of that scanner processed
 * afterwards is segmented better and names the calibration in its SR and metadata; another scanner
 * keeps the bare model; a restart keeps the active calibration; roll-back restores the bare model;
 * bad inputs fail the run with their reason and change nothing active. Small studies (6 slices x
 * 6 phases, K = 3) keep the CI cost near a minute.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { synthReferenceSeg } from '../src/cli/commands/synth.js';
import { ConfigSchema } from '../src/config/schema.js';
import { algorithmDeviceUid } from '../src/dicom/modules/equipment.js';
import { OrthancRestClient } from '../src/orthanc/rest-client.js';
import { CalibrationStore } from '../src/pipeline/calibration-store.js';
import { evaluateCase } from '../src/pipeline/evaluate.js';
import { ModelRegistry } from '../src/model/registry.js';
import { loadModel } from '../src/pipeline/steps.js';
import { createLogger } from '../src/service/logger.js';
import { USER_METADATA_DECLARATION } from '../src/service/marking.js';
import { createPipelineProcessor } from '../src/service/pipeline-processor.js';
import { startService, type RunningService } from '../src/service/service.js';
import { generateStudy, type SynthStudy } from '../src/synth/index.js';
import { startTestOrthanc } from './support/orthanc.js';
import { bundledManifest } from './support/paths.js';
import { waitFor } from './service-support.js';

const models = new ModelRegistry();
after(() => models.close());

const shifted = (seed: number) => generateStudy({ seed, group: 'NOR', domain: 'vendor-shifted-mri', slices: 6, phases: 6 });

async function upload(client: OrthancRestClient, study: SynthStudy, withReference: boolean): Promise<string> {
  let id = '';
  for (const file of study.files) id = (await client.uploadInstance(file.bytes)).ParentStudy;
  if (withReference) await client.uploadInstance(synthReferenceSeg(study, 'ed-es'));
  return id;
}

/** Mean Dice (LV, MYO, RV at ED and ES) of the pipeline on a synthetic study, with or without a calibration. */
async function meanDice(study: SynthStudy, calibration: ReturnType<CalibrationStore['get']> | null): Promise<number> {
  const t = study.truth;
  const result = await evaluateCase(
    {
      id: study.name,
      kind: 'synth',
      instances: study.files.map((f) => ({ source: f.name, bytes: f.bytes })),
      truthLabels: study.labels,
      truthLabelValues: { rv: 1, myo: 2, lv: 3 },
      edInstances: new Set(t.labels.instances.filter((i) => i.phase === t.phases.ed).map((i) => i.sopInstanceUID)),
      esInstances: new Set(t.labels.instances.filter((i) => i.phase === t.phases.es).map((i) => i.sopInstanceUID)),
      phasesGiven: false,
      group: t.group,
    },
    await loadModel(models),
    calibration,
  );
  const values = [...Object.values(result.dice.ed), ...Object.values(result.dice.es)].filter((v): v is number => v !== null);
  return values.reduce((a, b) => a + b, 0) / values.length;
}

const ADMIN = 'calibration-admin-token-0123456789';
const VIEWER = 'calibration-viewer-token-0123456789';

async function api<T>(service: RunningService, method: string, path: string, body?: unknown, token = ADMIN): Promise<{ status: number; json: T }> {
  // A fresh connection each time: the service's event loop is busy for seconds while it fits, and a
  // kept-alive socket may be closed under a waiting request.
  const res = await fetch(`${service.url}${path}`, {
    method,
    headers: { 'Content-Type': 'application/json', Connection: 'close', Authorization: `Bearer ${token}` },
    ...(method === 'GET' ? {} : { body: JSON.stringify(body ?? {}) }),
  });
  return { status: res.status, json: (await res.json()) as T };
}

test('calibrate from Orthanc through the API: promoted, used for its scanner only, kept across a restart, rolled back', { skip: existsSync(bundledManifest) ? false : 'no bundled model' }, async (t) => {
  const orthanc = await startTestOrthanc({ stableAgeSeconds: 1, userMetadata: USER_METADATA_DECLARATION });
  const dataDir = mkdtempSync(join(tmpdir(), 'pulse-cal-orthanc-'));
  // No changes feed and no webhook: studies are processed only when the test asks (reprocess API).
  const config = ConfigSchema.parse({
    orthanc: { url: orthanc.url },
    dataDir,
    server: { port: 0, auth: { adminTokens: [ADMIN], viewerTokens: [VIEWER] } },
    changesFeed: { enabled: false },
    queue: { pollIntervalMs: 200 },
  });
  const logger = createLogger('error', { silent: true });
  let service = await startService({ config, processor: createPipelineProcessor({ dataDir, threads: 1 }), logger });
  t.after(async () => {
    await service.stop(1000);
    await orthanc.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const client = new OrthancRestClient({ url: orthanc.url });

  const annotated = [shifted(801), shifted(802), shifted(803)];
  for (const study of annotated) await upload(client, study, true);
  const fresh = shifted(810);
  const freshId = await upload(client, fresh, false);
  const otherScanner = generateStudy({ seed: 811, group: 'NOR', domain: 'cine-mri', slices: 6, phases: 6 });
  await upload(client, otherScanner, false);
  const noReference = shifted(812);
  await upload(client, noReference, false);

  const runCalibration = async (body: unknown) => {
    const started = await api<{ run: number }>(service, 'POST', '/api/calibrations', body);
    assert.equal(started.status, 202, JSON.stringify(started.json));
    return waitFor('calibration run', async () => {
      const run = (await api<{ state: string; error?: string; profile?: Record<string, any> }>(service, 'GET', `/api/calibrations/runs/${started.json.run}`)).json;
      return run.state !== 'running' && run;
    }, 240_000, 500);
  };
  // The job the request queued: one per study and calibrations in force, so a roll-back queues the
  // study's earlier job for the bare model again rather than its newest one.
  const process = async (uid: string) => {
    const asked = await api<{ jobId: number }>(service, 'POST', `/api/studies/${uid}/reprocess`);
    assert.equal(asked.status, 202);
    return waitFor('job', async () => {
      const job = await service.store.get(asked.json.jobId);
      return job !== undefined && job.attempts > 0 && ['done', 'failed', 'skipped'].includes(job.state) && job;
    }, 120_000);
  };

  // Calibration changes are admin routes: a viewer may look, not calibrate or roll back.
  assert.equal((await api(service, 'GET', '/api/calibrations', undefined, VIEWER)).status, 200);
  assert.equal((await api(service, 'POST', '/api/calibrations', { studyInstanceUIDs: [annotated[0]!.truth.studyInstanceUID] }, VIEWER)).status, 403);
  assert.equal((await api(service, 'POST', '/api/calibrations/rollback', {}, 'not-a-token')).status, 401);

  // Bad inputs change nothing: K = 0, and a study without a reference SEG.
  assert.equal((await api(service, 'POST', '/api/calibrations', { studyInstanceUIDs: [] })).status, 400);
  const failed = await runCalibration({ studyInstanceUIDs: [annotated[0]!.truth.studyInstanceUID, noReference.truth.studyInstanceUID] });
  assert.equal(failed.state, 'failed');
  assert.match(failed.error!, /no reference SEG/);
  assert.deepEqual((await api<{ active: string[] }>(service, 'GET', '/api/calibrations')).json.active, []);

  // The calibration: promoted and active.
  const run = await runCalibration({ studyInstanceUIDs: annotated.map((s) => s.truth.studyInstanceUID) });
  assert.equal(run.state, 'done', run.error);
  const summary = run.profile!;
  assert.equal(summary.promoted, true, summary.reason);
  assert.equal(summary.k, 3);
  assert.equal(summary.scope.manufacturer, 'PULSE Synthetic B');
  const id = summary.id as string;
  assert.deepEqual((await api<{ active: string[] }>(service, 'GET', '/api/calibrations')).json.active, [id]);
  const profile = new CalibrationStore(dataDir).get(id);
  // The gate also judged what the user gets: each held-out study through the whole pipeline (its own
  // ED/ES), under the bare model and under its fold's adapter, against the reference's LV figures.
  const endToEnd = profile.metrics!.endToEnd!;
  assert.equal(endToEnd.after.studies, 3);
  assert.equal(endToEnd.perStudy.before.length, 3);
  assert.ok(endToEnd.after.lvefMae - endToEnd.before.lvefMae <= 1, JSON.stringify(endToEnd));
  assert.match(summary.reason as string, /end to end LVEF MAE/);
  assert.ok((await meanDice(fresh, profile)) > (await meanDice(fresh, null)), 'the calibration segments a fresh study of the scanner better');

  // A fresh study of that scanner runs with it, and says so in the SR, the outcome and the metadata.
  let job = await process(fresh.truth.studyInstanceUID);
  assert.equal(job.state, 'done', job.reason ?? '');
  assert.equal(job.outcome!.calibration, id);
  const metadata = await client.getJson<Record<string, string>>(`/studies/${freshId}/metadata?expand`);
  // The bundled model's version, whatever it is now (a new study head changes it).
  const version = (JSON.parse(readFileSync(bundledManifest, 'utf8')) as { version: string }).version;
  assert.equal(metadata.PulseModel, `pulse-lite@${version}+${id}`);
  const srId = (await client.getJson<Array<{ ID: string; MainDicomTags: { SOPInstanceUID: string } }>>(`/studies/${freshId}/instances`)).find((i) => i.MainDicomTags.SOPInstanceUID === job.outcome!.srSOPInstanceUID)!.ID;
  const srBytes = Buffer.from(await (await client.send('GET', `/instances/${srId}/file`)).arrayBuffer()).toString('latin1');
  assert.ok(srBytes.includes(id), 'the SR names the calibration');
  assert.ok(srBytes.includes(algorithmDeviceUid({ name: 'pulse-lite', version, calibration: id })), 'the SR carries the Device UID of the calibration');

  // Another scanner keeps the bare model.
  job = await process(otherScanner.truth.studyInstanceUID);
  assert.equal(job.state, 'done', job.reason ?? '');
  assert.equal(job.outcome!.calibration, null);

  // A restart keeps the active calibration.
  await service.stop(1000);
  service = await startService({ config, processor: createPipelineProcessor({ dataDir, threads: 1 }), logger });
  assert.deepEqual((await api<{ active: string[] }>(service, 'GET', '/api/calibrations')).json.active, [id]);

  // Roll-back: the next job of that scanner runs on the bare model again, without a restart.
  assert.deepEqual((await api<{ active: string[] }>(service, 'POST', '/api/calibrations/rollback')).json.active, []);
  job = await process(fresh.truth.studyInstanceUID);
  assert.equal(job.state, 'done', job.reason ?? '');
  assert.equal(job.outcome!.calibration, null);
});
