/**
 * `npm run bench:ohif-phase`: does OHIF draw a PULSE SEG of a cine study on the right phase? Runs the
 * real chain (a local Orthanc, the service with the embedded OHIF, the bundled model on a synthetic
 * cine study), then, in headless chromium, compares the overlay OHIF draws with the SEG's own masks,
 * phase by phase and slice by slice: for every second pixel in a box around the masks, the colour
 * drawn at that pixel's place on screen (read back from a screenshot through the viewport's
 * worldToCanvas) against the segment the SEG puts there (none, RV blue, myocardium green, LV red).
 *
 * Two shapes of output are compared (docs/ohif-cine-seg.md), both as the pipeline writes them:
 *   - the combined SEG (frames for ED and ES of the cine series);
 *   - the viewer phase series (reports.viewerPhaseSeries, on since the service serves OHIF): per
 *     labelled phase, a derived single-phase copy of the cine's images and a SEG of that phase
 *     referencing the copy (src/dicom/phase-series.ts).
 * The measuring itself is test/support/ohif-overlay.ts. Results: bench/ohif-phase-check.json;
 * screenshots under test-artifacts/ohif-phase/.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigSchema, viewerPhaseSeriesOn } from '../src/config/schema.js';
import { readSegmentation, type ReadSegmentation } from '../src/dicom/seg/read.js';
import { startOrthanc } from '../src/orthanc/local-orthanc.js';
import { OrthancRestClient } from '../src/orthanc/rest-client.js';
import { createLogger } from '../src/service/logger.js';
import { USER_METADATA_DECLARATION } from '../src/service/marking.js';
import { createPipelineProcessor } from '../src/service/pipeline-processor.js';
import { startService } from '../src/service/service.js';
import { generateStudy } from '../src/synth/index.js';
import { launchChromium } from '../test/support/browser.js';
import { projectRoot } from '../test/support/paths.js';
import { measure, type Tally } from '../test/support/ohif-overlay.js';

async function main(): Promise<void> {
  const phases = Number(process.argv[2] ?? 8);
  const shots = join(projectRoot, 'test-artifacts', 'ohif-phase');
  mkdirSync(shots, { recursive: true });
  const storage = mkdtempSync(join(tmpdir(), 'pulse-ohif-phase-'));
  const orthanc = await startOrthanc({ storageDir: join(storage, 'orthanc'), stableAgeSeconds: 1, userMetadata: USER_METADATA_DECLARATION });
  const config = ConfigSchema.parse({ orthanc: { url: orthanc.url }, dataDir: join(storage, 'service'), server: { port: 0 }, viewer: { ohif: true }, changesFeed: { pollIntervalMs: 200 }, queue: { pollIntervalMs: 200 } });
  const service = await startService({ config, processor: createPipelineProcessor({ viewerPhaseSeries: viewerPhaseSeriesOn(config) }), logger: createLogger('error', { silent: true }) });
  const browser = await launchChromium();
  try {
    const client = new OrthancRestClient({ url: orthanc.url });
    const study = generateStudy({ seed: 21, slices: 6, phases });
    for (const file of study.files) await client.uploadInstance(file.bytes);
    const uid = study.truth.studyInstanceUID;
    for (;;) {
      const job = (await service.store.findByStudy(uid))[0];
      if (job?.state === 'done') break;
      if (job && ['failed', 'skipped'].includes(job.state)) throw new Error(`the study was not processed: ${job.reason}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const segInstance = async (description: string): Promise<Uint8Array> => {
      const series = (await (await fetch(`${orthanc.url}/dicom-web/studies/${uid}/series?Modality=SEG&includefield=0008103E`)).json()) as Array<Record<string, { Value?: string[] }>>;
      const found = series.find((s) => s['0008103E']?.Value?.[0] === description)!;
      const seriesUID = found['0020000E']!.Value![0]!;
      const instances = (await (await fetch(`${orthanc.url}/dicom-web/studies/${uid}/series/${seriesUID}/instances`)).json()) as Array<Record<string, { Value?: string[] }>>;
      return client.retrieveInstanceAsStored(uid, seriesUID, instances[0]!['00080018']!.Value![0]!);
    };
    // The viewer phase series follow viewer.ohif (reports.viewerPhaseSeries): the pipeline wrote them.
    const copies = ['PULSE segmentation, ED phase copy (not reviewed)', 'PULSE segmentation, ES phase copy (not reviewed)'];
    const page = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
    const results: Record<string, Record<string, Tally>> = {};
    for (const description of ['PULSE automated segmentation (not reviewed)', ...copies]) {
      const seg = readSegmentation(await segInstance(description), description);
      results[description] = await measure(page, service.url, uid, seg, description, shots);
      for (const [group, t] of Object.entries(results[description]!)) {
        process.stdout.write(`${description} | ${group}: ${t.slices} slices, agreement ${(t.agree / t.total).toFixed(3)} (${t.agree}/${t.total}; missing ${t.missing}, extra ${t.extra}, wrong colour ${t.wrongColour})\n`);
      }
    }
    writeFileSync(join(projectRoot, 'bench', `ohif-phase-check${phases === 8 ? '' : `-${phases}`}.json`), `${JSON.stringify({ ohif: '@ohif/app 3.13.2', study: { slices: 6, phases, seed: 21 }, results }, null, 2)}\n`);
  } finally {
    await browser.close();
    await service.stop(1000);
    await orthanc.stop();
    rmSync(storage, { recursive: true, force: true });
  }
}

await main();
