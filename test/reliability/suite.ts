/**
 * The reliability suite (`npm run test:reliability`; `--size ci` is the reduced run scripts/test.sh
 * runs): `pulse serve` with the real pipeline as a child process, against a real Orthanc behind the
 * fault proxy (test/support/fault-proxy.ts), through every fault in turn:
 *   SIGKILL of the service mid-retrieve, mid-inference and mid-STOW; Orthanc stopped mid-retrieve and
 *   mid-STOW, then started again; an Orthanc outage longer than the old retry budget (8 attempts); the
 *   data folder read-only, then full (a size-limited tmpfs when mounting works, i.e. as root); a slow
 *   and lossy Orthanc; the bad-input corpus (test/reliability/bad-input.ts); a seeded fuzz run of the
 *   study reader on mutated real files.
 * Then it counts, from Orthanc's own index and the job store: every study in Orthanc has one job that
 * ended done (its SEG and SR in Orthanc, each passing dciodvfy), or failed or skipped with a reason.
 * It ends with one report, printed and written to reliability-report.json (the CI size to
 * reliability-report.ci.json), and exits 1 when a must-be-zero field is not zero.
 *
 *   node dist/test/reliability/suite.js [--size ci|full] [--out file]
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/orthanc/local-orthanc.js';
import { OrthancRestClient } from '../../src/orthanc/rest-client.js';
import { USER_METADATA_DECLARATION } from '../../src/service/marking.js';
import type { Job } from '../../src/queue/job-store.js';
import { isSeriesRetrieval, isStow, startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { fuzzStudyReader } from '../support/fuzz.js';
import { startTestOrthanc, type RunningOrthanc } from '../support/orthanc.js';
import { projectRoot } from '../support/paths.js';
import { dciodvfy } from '../support/validators.js';
import { killHard, listJobs, servePulse, waitFor } from '../service-support.js';
import { corpusStudies, fuzzSeeds, generatedBadStudies, smallCine, type BadStudy } from './bad-input.js';

interface Size {
  readonly name: 'ci' | 'full';
  readonly leaseMs: number;
  readonly backoff: { baseMs: number; maxMs: number };
  /** The Orthanc outage: longer than 8 attempts of the backoff above take. */
  readonly outageMs: number;
  readonly lossyStudies: number;
  readonly fuzzCases: number;
  /** Corpus files used (all of them in both sizes; a number to shorten a local run). */
  readonly corpusFiles: number;
}

const SIZES: Record<Size['name'], Size> = {
  ci: { name: 'ci', leaseMs: 5000, backoff: { baseMs: 100, maxMs: 500 }, outageMs: 8000, lossyStudies: 2, fuzzCases: 300, corpusFiles: Number.POSITIVE_INFINITY },
  full: { name: 'full', leaseMs: 15_000, backoff: { baseMs: 1000, maxMs: 20_000 }, outageMs: 150_000, lossyStudies: 10, fuzzCases: 5000, corpusFiles: Number.POSITIVE_INFINITY },
};

/**
 * The slow and lossy Orthanc: each request waits up to 300 ms; 4 % of answers are cut mid-body and
 * 2 % of connections dropped after Orthanc answered. A job makes about 20 requests, so about 40 % of
 * its tries meet at least one fault.
 */
const LOSSY = { maxDelayMs: 300, cutRate: 0.04, dropRate: 0.02 } as const;

/** The time 8 attempts took before retries were budgeted in time (the sum of 8 backoff waits, no jitter). */
function oldRetryBudgetMs(backoff: Size['backoff']): number {
  let total = 0;
  for (let k = 0; k < 8; k++) total += Math.min(backoff.maxMs, backoff.baseMs * 2 ** k);
  return total;
}

function argument(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
const log = (line: string) => process.stdout.write(`[reliability ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

/** The service child process: restarted after our kills and after any death of its own (a crash). */
class Service {
  child: ChildProcess | undefined;
  up = false;
  crashes: string[] = [];
  peakRssKb = 0;
  private killing = false;
  private starts = 0;
  private readonly rssTimer: NodeJS.Timeout;

  constructor(
    private readonly orthancUrl: string,
    private readonly dataDir: string,
    readonly port: number,
    private readonly env: Record<string, string>,
    private readonly logFile: string,
  ) {
    this.rssTimer = setInterval(() => this.sampleRss(), 250);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts it and waits until /healthz answers. */
  async start(): Promise<void> {
    this.starts++;
    const child = servePulse(this.orthancUrl, this.dataDir, this.port, this.env);
    const out = createWriteStream(this.logFile, { flags: 'a' });
    child.stdout!.pipe(out);
    child.stderr!.pipe(out);
    this.child = child;
    child.once('exit', (code, signal) => {
      this.up = false;
      if (this.killing) return;
      // Not our kill: a crash. Count it and start again, so the run goes on.
      this.crashes.push(`exit code ${code} signal ${signal} (start ${this.starts}): ${tail(this.logFile, 5)}`);
      log(`SERVICE DIED (not killed by the suite): code ${code} signal ${signal}`);
      void this.start();
    });
    await waitFor('the service answers /healthz', async () => (await fetch(`${this.url}/healthz`, { signal: AbortSignal.timeout(2000) }).then((r) => r.ok, () => false)), 120_000, 200);
    this.up = true;
  }

  /** SIGKILL (ours: not a crash). */
  async kill(): Promise<void> {
    this.sampleRss();
    this.killing = true;
    this.up = false;
    if (this.child) await killHard(this.child);
    this.killing = false;
  }

  /** SIGTERM (ours), then SIGKILL after 20 s. */
  async stop(final = false): Promise<void> {
    if (final) clearInterval(this.rssTimer);
    this.sampleRss();
    this.killing = true;
    this.up = false;
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((done) => child.once('exit', done));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(20_000)]);
      await killHard(child);
    }
    this.killing = false;
  }

  private sampleRss(): void {
    const pid = this.child?.pid;
    if (pid === undefined || this.child?.exitCode !== null) return;
    try {
      // VmHWM: the process's own peak resident set (threads included), not a sample.
      const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (hwm) this.peakRssKb = Math.max(this.peakRssKb, Number(hwm[1]));
    } catch {
      // exited between the check and the read
    }
  }
}

function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join(' | ');
  } catch {
    return '';
  }
}

/** /healthz answer times while the service is meant to be up (every 100 ms; a failure counts as 5000 ms). */
function probeHealth(service: Service): { stop(): Promise<number[]> } {
  const samples: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      if (service.up) {
        const t = performance.now();
        const ok = await fetch(`${service.url}/healthz`, { signal: AbortSignal.timeout(5000) }).then(
          async (r) => (await r.text(), r.ok),
          () => false,
        );
        // A failure only counts when the service was still meant to be up when it came.
        if (ok) samples.push(performance.now() - t);
        else if (service.up) samples.push(5000);
      }
      await sleep(100);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return samples;
    },
  };
}

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

interface ScenarioRecord {
  readonly name: string;
  readonly studies: string[];
  recoverySeconds?: number;
  notes: string[];
}

async function main(): Promise<void> {
  const size = SIZES[(argument('size') ?? 'full') as Size['name']];
  if (!size) throw new Error('--size must be ci or full');
  const out = argument('out') ?? join(projectRoot, size.name === 'full' ? 'reliability-report.json' : 'reliability-report.ci.json');
  const started = Date.now();
  const loads: number[] = [];
  const loadTimer = setInterval(() => loads.push(loadavg()[0]!), 5000);

  const work = mkdtempSync(join(tmpdir(), 'pulse-reliability-'));
  const dataDir = join(work, 'data');
  mkdirSync(dataDir);
  // The data folder on its own size-limited tmpfs, so it can be made read-only and full for real.
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=96m', 'tmpfs', dataDir], { encoding: 'utf8' }).status === 0;
  const diskMode = mounted ? 'tmpfs (96 MiB), remounted read-only, then filled to ENOSPC' : 'not run: mounting a tmpfs needs root (the injected SQLITE_FULL of test/service-faults.test.ts covers the store in CI)';
  log(`size ${size.name}; data folder: ${diskMode}`);
  // Interrupted (the Orthanc harness exits on SIGINT/SIGTERM): leave no service and no mount behind.
  process.once('exit', () => {
    if (service?.child?.exitCode === null) service.child.kill('SIGKILL');
    if (mounted) spawnSync('umount', ['-l', dataDir]);
  });

  let orthanc: RunningOrthanc | undefined;
  let proxy: FaultProxy | undefined;
  let service: Service | undefined;
  const scenarios: ScenarioRecord[] = [];
  const studyKinds = new Map<string, string>();
  let refusedByOrthanc = 0;
  try {
    orthanc = await startTestOrthanc({ stableAgeSeconds: 1, userMetadata: USER_METADATA_DECLARATION });
    const client = new OrthancRestClient({ url: orthanc.url });
    proxy = await startFaultProxy(orthanc.url);
    const port = await freePort();
    service = new Service(
      proxy.url,
      dataDir,
      port,
      {
        PULSE_LEASE_MS: String(size.leaseMs),
        PULSE_BACKOFF_BASE_MS: String(size.backoff.baseMs),
        PULSE_BACKOFF_MAX_MS: String(size.backoff.maxMs),
        PULSE_QUEUE_POLL_MS: '200',
        PULSE_CHANGES_POLL_MS: '300',
        PULSE_ORTHANC_TIMEOUT_MS: '20000',
        PULSE_LOG_LEVEL: 'warn',
        PULSE_RATE_LIMIT_READS: '1000000',
      },
      join(work, 'service.log'),
    );
    await service.start();
    const health = probeHealth(service);
    const svc = service;
    const prx = proxy;
    const orth = orthanc;

    /** Uploads a study's files straight to Orthanc; returns the StudyInstanceUIDs Orthanc took. */
    const upload = async (study: BadStudy | { kind: string; files: readonly Uint8Array[] }): Promise<string[]> => {
      const ids = new Set<string>();
      for (const bytes of study.files) {
        try {
          ids.add((await client.uploadInstance(bytes)).ParentStudy);
        } catch {
          refusedByOrthanc++;
        }
      }
      const uids: string[] = [];
      for (const id of ids) {
        const uid = (await client.getJson<{ MainDicomTags: { StudyInstanceUID: string } }>(`/studies/${id}`)).MainDicomTags.StudyInstanceUID;
        if (!uids.includes(uid)) uids.push(uid);
        studyKinds.set(uid, study.kind);
      }
      return uids;
    };
    const terminal = (j: Job | undefined) => j !== undefined && ['done', 'failed', 'skipped'].includes(j.state);
    const settled = async (uids: readonly string[], timeoutMs: number): Promise<Job[]> =>
      waitFor(`jobs of ${uids.length} studies finished`, async () => {
        const jobs = await listJobs(svc.port, 1000);
        const mine = uids.map((uid) => jobs.find((j) => j.studyInstanceUID === uid));
        return mine.every(terminal) && (mine as Job[]);
      }, timeoutMs, 500);
    const scenario = async (name: string, run: (record: ScenarioRecord) => Promise<void>): Promise<void> => {
      const record: ScenarioRecord = { name, studies: [], notes: [] };
      scenarios.push(record);
      log(`scenario: ${name}`);
      const t = Date.now();
      try {
        await run(record);
      } catch (error) {
        record.notes.push(`scenario did not complete: ${(error as Error).message}`);
        log(`  did not complete: ${(error as Error).message}`);
      }
      log(`  ${((Date.now() - t) / 1000).toFixed(1)} s ${record.notes.join('; ')}`);
    };
    let seed = 7000;

    // SIGKILL at three points of a job; recovery: from the kill to the study's job done.
    for (const point of ['retrieve', 'inference', 'STOW'] as const) {
      await scenario(`SIGKILL mid-${point}`, async (record) => {
        // Mid-inference: a larger study, so that the pipeline is still running 400 ms after retrieval.
        const files = point === 'inference' ? smallCine(seed++, 8, 16) : smallCine(seed++);
        const trigger =
          point === 'retrieve' ? prx.hold(isSeriesRetrieval) : point === 'STOW' ? prx.hold(isStow) : prx.answered(isSeriesRetrieval).then(() => sleep(400));
        record.studies.push(...(await upload({ kind: `kill mid-${point}`, files })));
        await Promise.race([trigger, sleep(180_000).then(() => Promise.reject(new Error(`the ${point} never came`)))]);
        const killedAt = Date.now();
        await svc.kill();
        await svc.start();
        const [job] = await settled(record.studies, 180_000);
        record.recoverySeconds = (Date.now() - killedAt) / 1000;
        record.notes.push(`job ${job!.state} after ${job!.attempts} attempts`);
      });
    }

    // Orthanc stopped while a study is retrieved, and while its outputs are stored; started 3 s later.
    for (const point of ['retrieve', 'STOW'] as const) {
      await scenario(`Orthanc stopped mid-${point}`, async (record) => {
        const held = prx.hold(point === 'retrieve' ? isSeriesRetrieval : isStow);
        record.studies.push(...(await upload({ kind: `Orthanc stopped mid-${point}`, files: smallCine(seed++) })));
        const request = await held;
        await orth.stop({ keepStorage: true });
        request.release();
        await sleep(3000);
        await orth.start();
        const [job] = await settled(record.studies, 180_000);
        record.notes.push(`job ${job!.state}, attempts ${job!.attempts}, retries ${job!.retries}`);
      });
    }

    // An outage longer than 8 attempts of backoff take.
    await scenario('Orthanc outage longer than the old retry budget', async (record) => {
      const held = prx.hold(isSeriesRetrieval);
      record.studies.push(...(await upload({ kind: 'outage', files: smallCine(seed++) })));
      const request = await held;
      await orth.stop({ keepStorage: true });
      request.release();
      await sleep(size.outageMs);
      await orth.start();
      const [job] = await settled(record.studies, 180_000);
      record.notes.push(`outage ${size.outageMs / 1000} s vs 8 attempts = ${oldRetryBudgetMs(size.backoff) / 1000} s of backoff; job ${job!.state}, attempts ${job!.attempts}, retries ${job!.retries}`);
    });

    // The data folder read-only, then full.
    if (mounted) {
      const readiness = async () => {
        const res = await fetch(`${svc.url}/readyz`).catch(() => undefined);
        if (!res) return { status: 0, reasons: [] as string[] };
        const body = (await res.json()) as { checks: Record<string, { ok: boolean; reason?: string }> };
        return { status: res.status, reasons: Object.values(body.checks).flatMap((c) => (c.ok ? [] : [c.reason ?? ''])) };
      };
      const diskScenario = async (name: string, breakIt: () => Promise<void> | void, repair: () => void) =>
        scenario(name, async (record) => {
          await breakIt();
          try {
            record.studies.push(...(await upload({ kind: name, files: smallCine(seed++) })));
            const seen = await waitFor('readiness reports the data folder', async () => {
              const r = await readiness();
              return r.status === 503 && r.reasons.some((x) => /queue|store|SQLITE|EROFS|ENOSPC|read-only|full/i.test(x)) && r;
            }, 30_000).catch(() => undefined);
            record.notes.push(seen ? `readiness 503: ${seen.reasons.join(' / ').slice(0, 160)}` : 'readiness did not report it within 30 s');
            const alive = await fetch(`${svc.url}/healthz`).then((r) => r.status, () => 0);
            record.notes.push(`healthz ${alive}`);
            await sleep(3000);
          } finally {
            repair();
          }
          const [job] = await settled(record.studies, 180_000);
          record.notes.push(`after repair: job ${job!.state}`);
        });
      // The kernel refuses to make a file system read-only while a process writes to it (EBUSY): the
      // service is stopped (SIGTERM), the folder remounted read-only, and the service started on it.
      await diskScenario(
        'data folder read-only (at start)',
        async () => {
          await svc.stop();
          const ro = spawnSync('mount', ['-o', 'remount,ro', dataDir], { encoding: 'utf8' });
          if (ro.status !== 0) throw new Error(`remount read-only failed: ${ro.stderr}`);
          await svc.start();
        },
        () => spawnSync('mount', ['-o', 'remount,rw', dataDir]),
      );
      const filler = join(dataDir, 'filler.bin');
      await diskScenario(
        'data folder full',
        () => {
          const fd = openSync(filler, 'w');
          const chunk = Buffer.alloc(1024 * 1024, 1);
          try {
            for (;;) writeSync(fd, chunk);
          } catch {
            // ENOSPC: full
          }
          try {
            for (;;) writeSync(fd, chunk, 0, 4096);
          } catch {
            // the last pages too
          }
          closeSync(fd);
        },
        () => rmSync(filler, { force: true }),
      );
    }

    // A slow and lossy Orthanc: every request delayed, answers cut short, connections dropped.
    await scenario('slow and lossy Orthanc', async (record) => {
      prx.lossy = { seed: 20261129, ...LOSSY };
      try {
        for (let k = 0; k < size.lossyStudies; k++) record.studies.push(...(await upload({ kind: 'slow and lossy Orthanc', files: smallCine(seed++) })));
        const jobs = await settled(record.studies, 600_000);
        record.notes.push(`${jobs.filter((j) => j.state === 'done').length}/${jobs.length} done; ${prx.stats.cuts} answers cut, ${prx.stats.drops} connections dropped, ${Math.round(prx.stats.delayedMs / 1000)} s of delay`);
      } finally {
        prx.lossy = undefined;
      }
    });

    // The bad-input corpus: shared corpus files one study each, and the generated broken studies.
    await scenario('bad-input corpus', async (record) => {
      const studies = [...generatedBadStudies(9100), ...corpusStudies(size.corpusFiles)];
      for (const study of studies) record.studies.push(...(await upload(study)));
      const jobs = await settled(record.studies, 900_000);
      const count = (s: string) => jobs.filter((j) => j.state === s).length;
      record.notes.push(`${studies.length} inputs, ${record.studies.length} studies in Orthanc: ${count('done')} done, ${count('failed')} failed, ${count('skipped')} skipped`);
    });

    const healthSamples = await health.stop();

    // The count, from Orthanc's index and the job store.
    log('counting');
    const jobs = await waitFor('the job list', async () => {
      const list = await listJobs(svc.port, 1000);
      return list.length > 0 && list;
    }, 60_000, 500);
    const orthancStudies = await client.getJson<Array<{ ID: string; MainDicomTags: { StudyInstanceUID: string } }>>('/studies?expand');
    const uids = [...new Set(orthancStudies.map((s) => s.MainDicomTags.StudyInstanceUID))];
    let resultsWritten = 0;
    let failedWithReason = 0;
    let skippedWithReason = 0;
    let duplicates = 0;
    let invalidObjects = 0;
    let validated = 0;
    const lostStudies: string[] = [];
    const duplicateStudies: string[] = [];
    const invalid: string[] = [];
    const internalErrors: string[] = [];
    const outcomes: Record<string, Record<string, number>> = {};
    const reasons: string[] = [];
    for (const uid of uids) {
      const mine = jobs.filter((j) => j.studyInstanceUID === uid);
      const job = mine[0];
      const kind = studyKinds.get(uid) ?? 'unknown';
      if (mine.length > 1) {
        duplicates++;
        duplicateStudies.push(`${kind}: ${mine.length} jobs`);
      }
      const state = job === undefined ? 'no job' : job.state;
      const byKind = (outcomes[kind.replace(/^corpus .*/, 'corpus files')] ??= {});
      byKind[state] = (byKind[state] ?? 0) + 1;
      if (job?.reason && !kind.startsWith('corpus')) reasons.push(`${kind}: ${job.state}: ${job.reason.slice(0, 240)}`);
      if (job === undefined || !terminal(job)) {
        lostStudies.push(`${kind}: ${state}`);
        continue;
      }
      if (job.state === 'done') {
        const found = await Promise.all([job.outcome?.segSOPInstanceUID, job.outcome?.srSOPInstanceUID].map(async (sop) => (sop === undefined ? [] : ((await client.request('POST', '/tools/lookup', sop, 'text/plain')) as unknown[]))));
        if (found.every((f) => f.length > 0)) resultsWritten++;
        else lostStudies.push(`${kind}: done but its SEG or SR is not in Orthanc`);
      } else if ((job.reason ?? '').trim() === '') {
        lostStudies.push(`${kind}: ${job.state} without a reason`);
      } else if (job.state === 'failed') {
        failedWithReason++;
        if (/internal error/i.test(job.reason!)) internalErrors.push(`${kind}: ${job.reason!.slice(0, 200)}`);
      } else {
        skippedWithReason++;
      }
    }
    // Every object we wrote (series whose description starts with PULSE): one SEG and one SR per study, each valid.
    for (const study of orthancStudies) {
      const series = await client.getJson<Array<{ MainDicomTags: { Modality?: string; SeriesDescription?: string }; Instances: string[] }>>(`/studies/${study.ID}/series?expand`);
      const ours = series.filter((s) => /^PULSE/i.test(s.MainDicomTags.SeriesDescription ?? ''));
      for (const modality of ['SEG', 'SR']) {
        const n = ours.filter((s) => s.MainDicomTags.Modality === modality).reduce((a, s) => a + s.Instances.length, 0);
        if (n > 1) {
          duplicates++;
          duplicateStudies.push(`${studyKinds.get(study.MainDicomTags.StudyInstanceUID) ?? 'unknown'}: ${n} ${modality} objects`);
        }
      }
      for (const s of ours) {
        for (const id of s.Instances) {
          const report = dciodvfy(await client.instanceFile(id));
          validated++;
          if (report.errors.length > 0) {
            invalidObjects++;
            invalid.push(`${s.MainDicomTags.Modality} of ${studyKinds.get(study.MainDicomTags.StudyInstanceUID) ?? 'unknown'}: ${report.errors.slice(0, 3).join(' / ')}`);
          }
        }
      }
    }

    // Fuzz: the study reader on mutated real files (in this process: it is the reader's contract).
    log(`fuzz: ${size.fuzzCases} cases`);
    const fuzz = fuzzStudyReader(fuzzSeeds(), size.fuzzCases, 20261129);

    const recoveries = scenarios.filter((s) => s.recoverySeconds !== undefined).map((s) => s.recoverySeconds!);
    const report = {
      date: new Date().toISOString(),
      size: size.name,
      durationSeconds: Math.round((Date.now() - started) / 1000),
      machine: { cpus: cpus().length, loadAverage1m: { mean: Math.round((loads.reduce((a, b) => a + b, 0) / Math.max(1, loads.length)) * 100) / 100, max: Math.round(Math.max(0, ...loads) * 100) / 100 } },
      settings: { leaseMs: size.leaseMs, backoff: size.backoff, outageSeconds: size.outageMs / 1000, oldRetryBudgetSeconds: oldRetryBudgetMs(size.backoff) / 1000, dataFolder: diskMode, lossy: LOSSY },
      studiesIn: uids.length,
      resultsWritten,
      failedWithReason,
      skippedWithReason,
      lost: lostStudies.length,
      duplicates,
      crashes: svc.crashes.length,
      invalidObjects,
      objectsValidated: validated,
      fuzzCases: fuzz.cases,
      fuzzUncaught: fuzz.uncaught,
      healthP99Ms: Math.round(quantile(healthSamples, 0.99)),
      healthSamples: healthSamples.length,
      maxRecoverySeconds: recoveries.length === 0 ? null : Math.round(Math.max(...recoveries) * 10) / 10,
      peakRssMb: Math.round(svc.peakRssKb / 1024),
      filesRefusedByOrthanc: refusedByOrthanc,
      scenarios: scenarios.map((s) => ({ name: s.name, studies: s.studies.length, ...(s.recoverySeconds !== undefined ? { recoverySeconds: Math.round(s.recoverySeconds * 10) / 10 } : {}), notes: s.notes })),
      outcomesByKind: outcomes,
      reasons,
      problems: { lost: lostStudies, duplicates: duplicateStudies, crashes: svc.crashes, invalidObjects: invalid, fuzzUncaught: fuzz.examples, internalErrors },
    };
    const mustBeZero = ['lost', 'duplicates', 'crashes', 'invalidObjects', 'fuzzUncaught'] as const;
    const broken = mustBeZero.filter((k) => report[k] !== 0);
    const incomplete = scenarios.filter((s) => s.notes.some((n) => n.startsWith('scenario did not complete')));
    writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
    printReport(report, out);
    if (broken.length > 0 || incomplete.length > 0) {
      process.stdout.write(`RELIABILITY FAILED: ${[...broken.map((k) => `${k} = ${report[k]}`), ...incomplete.map((s) => `${s.name} did not complete`)].join(', ')}\n(service log: ${join(work, 'service.log')})\n`);
      process.exitCode = 1;
    }
  } finally {
    clearInterval(loadTimer);
    await service?.stop(true);
    await proxy?.close();
    await orthanc?.stop();
    if (mounted) spawnSync('umount', ['-l', dataDir]);
    if (process.exitCode !== 1) rmSync(work, { recursive: true, force: true });
    else if (existsSync(join(work, 'service.log'))) log(`kept ${work} for inspection`);
  }
}

function printReport(report: Record<string, unknown>, out: string): void {
  const fields = ['studiesIn', 'resultsWritten', 'failedWithReason', 'skippedWithReason', 'lost', 'duplicates', 'crashes', 'invalidObjects', 'fuzzCases', 'fuzzUncaught', 'healthP99Ms', 'maxRecoverySeconds', 'peakRssMb'];
  const width = Math.max(...fields.map((f) => f.length));
  process.stdout.write(`\nPULSE reliability report (${String(report.size)} run, ${String(report.durationSeconds)} s)\n`);
  for (const f of fields) process.stdout.write(`  ${f.padEnd(width)}  ${String(report[f])}\n`);
  for (const s of report.scenarios as Array<{ name: string; notes: string[]; recoverySeconds?: number }>) {
    process.stdout.write(`  - ${s.name}${s.recoverySeconds !== undefined ? ` (recovered in ${s.recoverySeconds} s)` : ''}: ${s.notes.join('; ')}\n`);
  }
  const problems = report.problems as Record<string, string[]>;
  for (const [k, list] of Object.entries(problems)) for (const p of list.slice(0, 10)) process.stdout.write(`  ! ${k}: ${p}\n`);
  process.stdout.write(`written ${out}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`reliability: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
