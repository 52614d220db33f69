/**
 * Service benchmark: upload-to-results latency for one study and throughput for a burst of studies,
 * through a real Orthanc and the real pipeline, each with the pure pipeline time of the same
 * instances (processStudy in process, no Orthanc) as the reference ratio.
 *   node dist/bench/service.js [--burst 20] [--slices 8] [--phases 16] [--stable-age 1] [--concurrency 1]
 * Or `import { benchService } from './service.js'` (bench/run.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigSchema } from '../src/config/schema.js';
import { startOrthanc } from '../src/orthanc/local-orthanc.js';
import { OrthancRestClient } from '../src/orthanc/rest-client.js';
import { createLogger } from '../src/service/logger.js';
import { USER_METADATA_DECLARATION } from '../src/service/marking.js';
import { createPipelineProcessor } from '../src/service/pipeline-processor.js';
import { startService, type RunningService } from '../src/service/service.js';
import { generateStudy } from '../src/synth/index.js';

export interface ServiceBenchOptions {
  readonly burst: number;
  readonly slices: number;
  readonly phases: number;
  readonly stableAgeSeconds: number;
  readonly concurrency: number;
  readonly seed: number;
}

export interface ServiceBenchResult {
  readonly study: { slices: number; phases: number; instances: number };
  readonly stableAgeSeconds: number;
  readonly concurrency: number;
  /** One study: from the start of its upload until its job is done (includes StableAge). */
  readonly single: { uploadMs: number; uploadToResultsMs: number; latencyAfterStableMs: number; pureInferenceMs: number; ratio: number; stages: Record<string, number> };
  /** A burst: every study uploaded back to back, until the last job is done. */
  readonly burst: { studies: number; wallMs: number; studiesPerMinute: number; pureInferenceMs: number; ratio: number };
  /** `/healthz` answer times during the burst (one probe every 20 ms), while studies are inferred. */
  readonly health: { samples: number; p50Ms: number; p99Ms: number; maxMs: number };
  /** Largest resident set of this process (service + pipeline threads) seen during the burst. */
  readonly peakRssMb: number;
}

/** Probes `url` every `intervalMs` until stopped; answer times in ms, and the largest RSS seen. */
function probeWhile(url: string, intervalMs: number): { stop(): Promise<{ latencies: number[]; peakRss: number }> } {
  const latencies: number[] = [];
  let peakRss = process.memoryUsage().rss;
  let running = true;
  const loop = (async () => {
    while (running) {
      const t = performance.now();
      try {
        await (await fetch(url)).text();
        latencies.push(performance.now() - t);
      } catch {
        latencies.push(Number.POSITIVE_INFINITY);
      }
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { latencies, peakRss };
    },
  };
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const DEFAULTS: ServiceBenchOptions = { burst: 20, slices: 8, phases: 16, stableAgeSeconds: 1, concurrency: 1, seed: 500 };

async function waitDone(service: RunningService, studyUIDs: readonly string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const jobs = await Promise.all(studyUIDs.map(async (uid) => (await service.store.findByStudy(uid, service.modelKey))[0]));
    const failed = jobs.find((j) => j?.state === 'failed' || j?.state === 'skipped');
    if (failed) throw new Error(`job ${failed.id} ended ${failed.state}: ${failed.reason}`);
    if (jobs.every((j) => j?.state === 'done')) return;
    if (Date.now() > deadline) throw new Error('benchmark timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function benchService(options: Partial<ServiceBenchOptions> = {}): Promise<ServiceBenchResult> {
  const o = { ...DEFAULTS, ...options };
  const processor = createPipelineProcessor();
  const make = (k: number) => generateStudy({ seed: o.seed + k, slices: o.slices, phases: o.phases });
  const pure = async (study: ReturnType<typeof make>): Promise<number> => {
    const t = performance.now();
    await processor.process(study.files.map((f) => ({ source: f.name, bytes: f.bytes })));
    return performance.now() - t;
  };
  const orthanc = await startOrthanc({ stableAgeSeconds: o.stableAgeSeconds, userMetadata: USER_METADATA_DECLARATION });
  const dataDir = mkdtempSync(join(tmpdir(), 'pulse-bench-service-'));
  const config = ConfigSchema.parse({
    orthanc: { url: orthanc.url },
    dataDir,
    server: { port: 0 },
    changesFeed: { pollIntervalMs: 100 },
    queue: { pollIntervalMs: 100, concurrency: o.concurrency },
  });
  const service = await startService({ config, processor, logger: createLogger('error', { silent: true }) });
  const client = new OrthancRestClient({ url: orthanc.url });
  try {
    // Warm-up (model session, JIT) outside the measurements.
    const warm = make(999);
    await pure(warm);

    const one = make(0);
    const pureOne = await pure(one);
    const t0 = performance.now();
    for (const f of one.files) await client.uploadInstance(f.bytes);
    const uploadMs = performance.now() - t0;
    await waitDone(service, [one.truth.studyInstanceUID], 300_000);
    const uploadToResultsMs = performance.now() - t0;
    const job = (await service.store.findByStudy(one.truth.studyInstanceUID, service.modelKey))[0]!;

    const studies = Array.from({ length: o.burst }, (_, k) => make(k + 1));
    let pureBurst = 0;
    for (const s of studies) pureBurst += await pure(s);
    const t1 = performance.now();
    const probe = probeWhile(`${service.url}/healthz`, 20);
    for (const s of studies) for (const f of s.files) await client.uploadInstance(f.bytes);
    await waitDone(service, studies.map((s) => s.truth.studyInstanceUID), 1_800_000);
    const wallMs = performance.now() - t1;
    const { latencies, peakRss } = await probe.stop();
    const sorted = [...latencies].sort((a, b) => a - b);

    const round = (x: number) => Math.round(x);
    return {
      study: { slices: o.slices, phases: o.phases, instances: one.files.length },
      stableAgeSeconds: o.stableAgeSeconds,
      concurrency: o.concurrency,
      single: {
        uploadMs: round(uploadMs),
        uploadToResultsMs: round(uploadToResultsMs),
        latencyAfterStableMs: round(uploadToResultsMs - uploadMs - o.stableAgeSeconds * 1000),
        pureInferenceMs: round(pureOne),
        ratio: Math.round((uploadToResultsMs / pureOne) * 100) / 100,
        stages: Object.fromEntries(Object.entries(job.timings).filter(([k]) => !k.startsWith('pipeline.')).map(([k, v]) => [k, round(v)])),
      },
      burst: {
        studies: o.burst,
        wallMs: round(wallMs),
        studiesPerMinute: Math.round((o.burst / (wallMs / 60_000)) * 10) / 10,
        pureInferenceMs: round(pureBurst),
        ratio: Math.round((wallMs / pureBurst) * 100) / 100,
      },
      health: { samples: sorted.length, p50Ms: round(quantile(sorted, 0.5)), p99Ms: round(quantile(sorted, 0.99)), maxMs: round(sorted.at(-1) ?? Number.NaN) },
      peakRssMb: Math.round(peakRss / 1024 / 1024),
    };
  } finally {
    await service.stop(5000);
    await orthanc.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function flag(args: string[], name: string): number | undefined {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : undefined;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const options: Partial<ServiceBenchOptions> = {};
  for (const [key, name] of [['burst', 'burst'], ['slices', 'slices'], ['phases', 'phases'], ['stableAgeSeconds', 'stable-age'], ['concurrency', 'concurrency']] as const) {
    const value = flag(args, name);
    if (value !== undefined) (options as Record<string, number>)[key] = value;
  }
  benchService(options).then(
    (result) => process.stdout.write(`${JSON.stringify(result, null, 2)}\n`),
    (error: unknown) => {
      process.stderr.write(`bench/service: ${(error as Error).message}\n`);
      process.exit(1);
    },
  );
}
