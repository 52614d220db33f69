/**
 * A burst through the service as it runs in production: `workers` `pulse serve` processes (the real
 * pipeline) sharing one job store, a real Orthanc, `studies` synthetic studies uploaded back to back.
 * Measures the wall time from the first upload to the last job done (studies per hour), each worker
 * process's peak resident set (VmHWM: the kernel's own peak, threads included, not a sample), /healthz
 * answer times during the burst, and the load average. The studies are written to disk first and read
 * back one file at a time, so the generator's memory and time stay out of the measurement.
 *
 *   node dist/bench/burst.js [--workers 1] [--studies 20] [--slices 12] [--phases 30]
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort, startOrthanc } from '../src/orthanc/local-orthanc.js';
import { OrthancRestClient } from '../src/orthanc/rest-client.js';
import { USER_METADATA_DECLARATION } from '../src/service/marking.js';
import { generateStudy } from '../src/synth/index.js';
import type { Job } from '../src/queue/job-store.js';
import { median } from './args.js';

export interface BurstOptions {
  readonly workers: number;
  readonly studies: number;
  readonly slices: number;
  readonly phases: number;
  readonly seed?: number;
  /** Extra environment of the worker processes (e.g. the job store's backend). */
  readonly env?: Record<string, string>;
  /** A label for the job store in the output. @defaultValue 'sqlite' */
  readonly store?: string;
  /**
   * The project folder whose built service runs (its bin/pulse.js and dist/): another checkout, to
   * measure two builds side by side (bench/memory.ts). @defaultValue this project
   */
  readonly serviceRoot?: string;
  /**
   * Where the synthetic studies are written (or, when already there, read back): several bursts of
   * the same studies generate them once. @defaultValue a temporary folder of this burst
   */
  readonly studiesFolder?: string;
}

export interface BurstResult {
  readonly store: string;
  readonly workers: number;
  readonly studies: number;
  readonly study: { slices: number; phases: number; instances: number };
  readonly wallMs: number;
  readonly studiesPerHour: number;
  /** The largest peak resident set of one worker process (MB). */
  readonly peakRssMb: number;
  /** The sum of the workers' peaks (MB): an upper bound of the service's total. */
  readonly peakRssMbAllWorkers: number;
  readonly health: { samples: number; p50Ms: number; p99Ms: number; maxMs: number };
  readonly loadAverage1m: { start: number; mean: number; max: number };
  /** Medians over the burst's jobs of the worker's stages and the pipeline's own. */
  readonly stagesMs: Record<string, number>;
}

const projectRoot = join(import.meta.dirname, '..', '..');
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));


function quantile(values: readonly number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

function vmHwmKb(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

async function jobsOf(port: number): Promise<Job[]> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/api/jobs?limit=1000`);
    return res.ok ? ((await res.json()) as { jobs: Job[] }).jobs : [];
  } catch {
    return [];
  }
}

export async function runBurst(options: BurstOptions): Promise<BurstResult> {
  const { workers, studies, slices, phases, seed = 800 } = options;
  const work = mkdtempSync(join(tmpdir(), 'pulse-bench-burst-'));
  const children: ChildProcess[] = [];
  const orthanc = await startOrthanc({ stableAgeSeconds: 1, userMetadata: USER_METADATA_DECLARATION });
  try {
    // Written to disk first: the generator's time and memory stay out of the burst.
    const folders: string[] = [];
    let instances = 0;
    for (let k = 0; k < studies; k++) {
      const folder = join(options.studiesFolder ?? join(work, 'studies'), `${seed + k}-${slices}x${phases}`);
      if (!existsSync(join(folder, 'complete'))) {
        const study = generateStudy({ seed: seed + k, slices, phases });
        mkdirSync(folder, { recursive: true });
        study.files.forEach((f, i) => writeFileSync(join(folder, `${i}.dcm`), f.bytes));
        writeFileSync(join(folder, 'complete'), '');
      }
      instances = readdirSync(folder).filter((name) => name.endsWith('.dcm')).length;
      folders.push(folder);
    }
    const dataDir = join(work, 'data');
    mkdirSync(dataDir);
    // MALLOC_ARENA_MAX=2 as the Dockerfile sets it (glibc's default keeps an arena per thread); a
    // variable given as '' is removed.
    const workerEnv: Record<string, string | undefined> = { ...process.env, MALLOC_ARENA_MAX: '2', PULSE_LOG_LEVEL: 'warn', PULSE_QUEUE_POLL_MS: '100', PULSE_CHANGES_POLL_MS: '200', PULSE_RATE_LIMIT_READS: '1000000', ...options.env };
    for (const [name, value] of Object.entries(workerEnv)) if (value === '') delete workerEnv[name];
    const ports: number[] = [];
    for (let w = 0; w < workers; w++) {
      const port = await freePort();
      ports.push(port);
      const child = spawn(process.execPath, [join(options.serviceRoot ?? projectRoot, 'bin', 'pulse.js'), 'serve', '--orthanc', orthanc.url, '--data', dataDir, '--port', String(port)], {
        env: workerEnv,
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      children.push(child);
    }
    for (const port of ports) {
      for (let t = 0; ; t++) {
        if (await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false)) break;
        if (t > 600) throw new Error('a worker did not start');
        await sleep(200);
      }
    }
    const client = new OrthancRestClient({ url: orthanc.url });
    const loads: number[] = [];
    const latencies: number[] = [];
    let running = true;
    const loadStart = loadavg()[0]!;
    const probe = (async () => {
      while (running) {
        const t = performance.now();
        const ok = await fetch(`http://127.0.0.1:${ports[0]}/healthz`, { signal: AbortSignal.timeout(10_000) }).then(async (r) => (await r.text(), r.ok), () => false);
        latencies.push(ok ? performance.now() - t : 10_000);
        loads.push(loadavg()[0]!);
        await sleep(50);
      }
    })();
    const t0 = performance.now();
    for (const folder of folders) {
      for (const name of readdirSync(folder).filter((n) => n.endsWith('.dcm'))) await client.uploadInstance(new Uint8Array(readFileSync(join(folder, name))));
    }
    let jobs: Job[] = [];
    for (;;) {
      jobs = await jobsOf(ports[0]!);
      const finished = jobs.filter((j) => ['done', 'failed', 'skipped'].includes(j.state));
      if (jobs.length === studies && finished.length === studies) break;
      const bad = finished.find((j) => j.state !== 'done');
      if (bad) throw new Error(`job ${bad.id} ended ${bad.state}: ${bad.reason}`);
      if (performance.now() - t0 > 3_600_000) throw new Error('the burst took over an hour');
      await sleep(100);
    }
    const wallMs = performance.now() - t0;
    running = false;
    await probe;
    const peaks = children.map((c) => vmHwmKb(c.pid) / 1024);
    const stageNames = [...new Set(jobs.flatMap((j) => Object.keys(j.timings)))];
    return {
      store: options.store ?? 'sqlite',
      workers,
      studies,
      study: { slices, phases, instances },
      wallMs: Math.round(wallMs),
      studiesPerHour: Math.round(studies / (wallMs / 3_600_000)),
      peakRssMb: Math.round(Math.max(...peaks)),
      peakRssMbAllWorkers: Math.round(peaks.reduce((a, b) => a + b, 0)),
      health: { samples: latencies.length, p50Ms: Math.round(quantile(latencies, 0.5)), p99Ms: Math.round(quantile(latencies, 0.99)), maxMs: Math.round(Math.max(...latencies)) },
      loadAverage1m: { start: Math.round(loadStart * 100) / 100, mean: Math.round((loads.reduce((a, b) => a + b, 0) / Math.max(1, loads.length)) * 100) / 100, max: Math.round(Math.max(...loads) * 100) / 100 },
      stagesMs: Object.fromEntries(stageNames.map((s) => [s, Math.round(median(jobs.map((j) => j.timings[s]).filter((v): v is number => v !== undefined)))])),
    };
  } finally {
    for (const child of children) {
      if (child.exitCode === null) {
        const exited = new Promise((done) => child.once('exit', done));
        child.kill('SIGTERM');
        await Promise.race([exited, sleep(15_000)]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    }
    await orthanc.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

function flag(name: string): number | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : undefined;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runBurst({ workers: flag('workers') ?? 1, studies: flag('studies') ?? 20, slices: flag('slices') ?? 12, phases: flag('phases') ?? 30 }).then(
    (result) => process.stdout.write(`${JSON.stringify({ cpus: cpus().length, ...result }, null, 2)}\n`),
    (error: unknown) => {
      process.stderr.write(`bench/burst: ${(error as Error).message}\n`);
      process.exit(1);
    },
  );
}
