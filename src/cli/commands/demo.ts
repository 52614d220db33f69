/**
 * `pulse demo`: the README's main command. Starts a local Orthanc (persistent storage under
 * .pulse-data/orthanc in the project folder, DICOMweb on, PULSE user metadata declared), stores a
 * few synthetic cine studies in it, prints where to look, and runs until Ctrl-C.
 *
 * The wiring lives in `startDemo()`: each part is one call, so the service joins as one more
 * `await startService(...)` line whose stop function goes on the `stops` list.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { parseIntegerOption } from '../integer-option.js';
import { isPortFree, startOrthanc, type RunningOrthanc } from '../../orthanc/local-orthanc.js';
import { startLocalService } from '../../service/local-service.js';
import { USER_METADATA_DECLARATION } from '../../service/marking.js';
import { OrthancRestClient } from '../../orthanc/rest-client.js';
import { importAcdcPatient } from '../../nifti/index.js';
import { generateStudy, SYNTH_GROUPS } from '../../synth/index.js';
import { defaultOhifDist, ohifDistProblem, OHIF_BASE } from '../../server/ohif.js';

export interface DemoOptions {
  /** Preferred HTTP port; a free one is used when it is taken. @defaultValue 8042 */
  readonly port: number;
  /** Preferred DICOM port. @defaultValue 4242 */
  readonly dicomPort: number;
  /** Orthanc storage folder. @defaultValue <project>/.pulse-data/orthanc */
  readonly dataDir: string;
  /** Number of synthetic studies to generate and store. @defaultValue 3 */
  readonly studies: number;
  /** First generator seed. @defaultValue 1 */
  readonly seed: number;
  /** ACDC patient folders to import as well (e.g. ../shared/data/acdc/training/patient001). */
  readonly acdc: readonly string[];
  /** StableAge in seconds. @defaultValue 5 */
  readonly stableAge: number;
}

/** A running demo: its Orthanc and one function that stops everything in reverse order. */
export interface RunningDemo {
  readonly orthanc: RunningOrthanc;
  readonly storedStudies: number;
  stop(): Promise<void>;
}

type Log = (line: string) => void;

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('start a local Orthanc with DICOMweb, store a few synthetic cine studies, and run until Ctrl-C')
    .option('--port <port>', 'Orthanc HTTP port (a free one is used when it is taken)', '8042')
    .option('--dicom-port <port>', 'Orthanc DICOM port (a free one is used when it is taken)', '4242')
    .option('--data-dir <dir>', 'Orthanc storage folder (kept between runs)', join(projectRoot(), '.pulse-data', 'orthanc'))
    .option('--studies <n>', 'number of synthetic studies to generate and store', '3')
    .option('--seed <n>', 'first synthetic study seed', '1')
    .option('--acdc <folder...>', 'also import these ACDC patient folders')
    .option('--stable-age <seconds>', 'seconds without new instances before Orthanc calls a study stable', '5')
    .action(async (raw: Record<string, string | string[] | undefined>) => {
      const options: DemoOptions = {
        port: parseIntegerOption(raw.port, '--port', { min: 1, max: 65535 }),
        dicomPort: parseIntegerOption(raw.dicomPort, '--dicom-port', { min: 1, max: 65535 }),
        dataDir: resolve(String(raw.dataDir)),
        studies: parseIntegerOption(raw.studies, '--studies', { min: 0 }),
        seed: parseIntegerOption(raw.seed, '--seed', { min: 0 }),
        acdc: (raw.acdc as string[] | undefined) ?? [],
        stableAge: parseIntegerOption(raw.stableAge, '--stable-age', { min: 1 }),
      };
      const log: Log = (line) => process.stdout.write(`${line}\n`);
      const demo = await startDemo(options, log);
      await waitForSignal();
      log('stopping...');
      await demo.stop();
      log('stopped');
    });
}

/** Starts everything the demo runs; used by the command and by tests. */
export async function startDemo(options: DemoOptions, log: Log): Promise<RunningDemo> {
  const stops: Array<() => Promise<void>> = [];
  const stop = async (): Promise<void> => {
    for (const s of stops.reverse()) await s();
  };
  try {
    log(`starting Orthanc (storage ${options.dataDir})...`);
    const orthanc = await startOrthanc({
      storageDir: options.dataDir,
      httpPort: options.port,
      dicomPort: options.dicomPort,
      aet: 'PULSE',
      userMetadata: USER_METADATA_DECLARATION,
      stableAgeSeconds: options.stableAge,
    });
    stops.push(() => orthanc.stop());
    if (orthanc.httpPort !== options.port) log(`port ${options.port} is taken: Orthanc listens on ${orthanc.httpPort} instead`);

    const client = new OrthancRestClient({ url: orthanc.url });
    const stored = await seedStudies(client, options, log);

    // The PULSE service beside it: changes feed, queue in the Orthanc storage folder, bundled model.
    const viewerProblem = ohifDistProblem(defaultOhifDist());
    const serviceUrl = await startDemoService(orthanc, options, stops, log, viewerProblem === undefined);

    log('');
    log(`Orthanc Explorer:  ${orthanc.url}/app/explorer.html`);
    log(`DICOMweb root:     ${orthanc.dicomWebUrl}`);
    log(`DICOM:             AET ${orthanc.aet} on 127.0.0.1:${orthanc.dicomPort}`);
    if (serviceUrl !== undefined) log(`PULSE dashboard:   ${serviceUrl}`);
    if (serviceUrl !== undefined) log(viewerProblem === undefined ? `OHIF viewer:       ${serviceUrl}${OHIF_BASE}/ (study pages link to it)` : `OHIF viewer:       not served: ${viewerProblem}`);
    log(`studies in Orthanc: ${(await client.listStudies()).length}`);
    log('press Ctrl-C to stop');
    return { orthanc, storedStudies: stored, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Starts the PULSE service on the demo's Orthanc (port 8088, or a free one when taken), with the OHIF
 * viewer when scripts/install-ohif.sh has installed it. When it
 * cannot start (no model yet) the demo says why and keeps Orthanc running.
 */
async function startDemoService(orthanc: RunningOrthanc, options: DemoOptions, stops: Array<() => Promise<void>>, log: Log, ohif: boolean): Promise<string | undefined> {
  try {
    const service = await startLocalService({
      ohif,
      orthancUrl: orthanc.url,
      dataDir: join(options.dataDir, 'pulse-service'),
      port: (await isPortFree(8088)) ? 8088 : 0,
    });
    stops.push(() => service.stop());
    return service.url;
  } catch (error) {
    log(`PULSE service not started: ${(error as Error).message}`);
    return undefined;
  }
}

/** Generates and stores the synthetic studies (and any ACDC patients asked for); returns how many studies were stored. */
async function seedStudies(client: OrthancRestClient, options: DemoOptions, log: Log): Promise<number> {
  let count = 0;
  const store = async (label: string, files: ReadonlyArray<{ bytes: Uint8Array }>): Promise<void> => {
    let fresh = 0;
    for (const file of files) if ((await client.uploadInstance(file.bytes)).Status !== 'AlreadyStored') fresh++;
    count++;
    log(`  ${label}: ${files.length} instances${fresh < files.length ? ` (${files.length - fresh} already there)` : ''}`);
  };
  if (options.studies > 0) log(`storing ${options.studies} synthetic cine studies...`);
  for (let n = 0; n < options.studies; n++) {
    const study = generateStudy({ seed: options.seed + n, group: SYNTH_GROUPS[n % SYNTH_GROUPS.length]! });
    await store(study.name, study.files);
  }
  for (const folder of options.acdc) {
    const acdc = await importAcdcPatient(folder, { labels: false });
    await store(acdc.info.patientId, acdc.files);
  }
  return count;
}

function waitForSignal(): Promise<void> {
  return new Promise((done) => {
    const handler = (): void => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
      done();
    };
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
  });
}

/** The project folder (where package.json names pulse-for-orthanc), from this module's location. */
function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'pulse-for-orthanc') return dir;
      } catch {
        // not ours; keep looking
      }
    }
    const parent = dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
}

