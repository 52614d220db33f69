/**
 * `npm run bench` (after the build: node dist/bench/run.js): per-stage times of the offline pipeline
 * on a 10-slice x 25-phase synthetic study, and the end-to-end time as a ratio to the pure ONNX
 * inference time of the same slices, measured in the same run; then bursts through the service
 * (bench/burst.ts): 25 studies of 10 x 25 with 1, 2 and 3 worker processes on SQLite and on
 * PostgreSQL (studies per hour), and 20 studies of 12 x 30 with one worker (peak RSS). Prints one
 * table and writes bench/results.json.
 *
 *   node dist/bench/run.js [--model manifest.json] [--threads 2] [--runs 5] [--out bench/results.json]
 *     [--skip-bursts] [--stores sqlite,postgres] [--workers 1,2,3] [--burst-studies 25] [--memory-studies 20]
 *     [--compare-arenas]  (the memory burst again without MALLOC_ARENA_MAX=2)
 *
 * Both measurements alternate within one process, so background load affects them alike; the
 * reported figures are medians.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { generateStudy } from '../src/synth/index.js';
import { processStudy } from '../src/pipeline/process-study.js';
import { StageTimer } from '../src/core/stage-timer.js';
import { ModelRegistry } from '../src/model/registry.js';
import { loadModel, readStep } from '../src/pipeline/steps.js';
import { channelSlices, preprocessImage } from '../src/model/preprocess.js';
import { SEGMENTATION_BATCH_SIZE } from '../src/model/segment-stack.js';
import { runBurst, type BurstResult } from './burst.js';
import { startTestPostgres, type TestPostgres } from '../test/support/postgres.js';

function argument(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

async function main(): Promise<void> {
  const manifestPath = argument('model');
  const threads = Number(argument('threads') ?? 2);
  const runs = Number(argument('runs') ?? 5);
  const out = resolve(argument('out') ?? 'bench/results.json');

  const loadAtStart = loadavg()[0]!;
  const study = generateStudy({ seed: 1, group: 'NOR', slices: 10, phases: 25 });
  const instances = study.files.map((f) => ({ source: f.name, bytes: f.bytes }));
  const models = new ModelRegistry();
  const model = await loadModel(models, manifestPath, threads);
  const shape = model.session.shape;
  const options = { ...(manifestPath ? { manifestPath } : {}), threads, models };

  // The pure-inference reference: the same slices, already pre-processed, straight through onnxruntime
  // in the pipeline's batch size.
  const cine = readStep(instances, new StageTimer());
  const { slices, phases } = cine.grid;
  const plane = shape.rows * shape.columns;
  const windows = new Float32Array(slices * phases * plane);
  const scratch = new Float32Array(plane);
  for (let p = 0; p < phases; p++) {
    for (let s = 0; s < slices; s++) preprocessImage(cine.grid.images[s]![p]!, shape, model.manifest, windows.subarray((p * slices + s) * plane, (p * slices + s + 1) * plane), scratch);
  }
  const batchSize = SEGMENTATION_BATCH_SIZE;
  const batches: Array<{ input: Float32Array; count: number }> = [];
  for (let start = 0; start < slices * phases; start += batchSize) {
    const count = Math.min(batchSize, slices * phases - start);
    const input = new Float32Array(count * shape.channels * plane);
    for (let b = 0; b < count; b++) {
      const p = Math.floor((start + b) / slices);
      const s = start + b - p * slices;
      channelSlices(s, slices, shape.channels, model.manifest.input.channels).forEach((from, ch) => {
        input.set(windows.subarray((p * slices + from) * plane, (p * slices + from + 1) * plane), (b * shape.channels + ch) * plane);
      });
    }
    batches.push({ input, count });
  }
  const pureInference = async (): Promise<number> => {
    const t = performance.now();
    for (const b of batches) await model.session.run(b.input, b.count);
    return performance.now() - t;
  };

  // Warm-up (session creation, first-run allocations), then alternate the two measurements.
  await processStudy(instances, options);
  await pureInference();
  const pure: number[] = [];
  const endToEnd: number[] = [];
  const stages: Array<Record<string, number>> = [];
  for (let i = 0; i < runs; i++) {
    pure.push(await pureInference());
    const t = performance.now();
    const outputs = await processStudy(instances, options);
    endToEnd.push(performance.now() - t);
    stages.push(outputs.result.timings_ms);
  }
  const stageNames = Object.keys(stages[0]!);
  const stageMedians = Object.fromEntries(stageNames.map((s) => [s, Math.round(median(stages.map((x) => x[s] ?? 0)) * 10) / 10]));
  const pureMs = median(pure);
  const e2eMs = median(endToEnd);
  await models.close();
  const pipeline = {
    study: { slices, phases, rows: cine.grid.images[0]![0]!.plane.rows, columns: cine.grid.images[0]![0]!.plane.columns, images: slices * phases },
    threads,
    runs,
    batch_size: SEGMENTATION_BATCH_SIZE,
    stages_ms: stageMedians,
    end_to_end_ms: Math.round(e2eMs * 10) / 10,
    pure_inference_ms: Math.round(pureMs * 10) / 10,
    pure_inference_ms_per_slice: Math.round((pureMs / (slices * phases)) * 100) / 100,
    ratio_end_to_end_to_inference: Math.round((e2eMs / pureMs) * 1000) / 1000,
    target_ratio: 1.2,
  };
  const loadAfterPipeline = loadavg()[0]!;

  // Bursts through the service (pulse serve processes, a real Orthanc): throughput for 1-3 workers on
  // each job store, and the peak RSS of one worker through a burst of large studies.
  const bursts: BurstResult[] = [];
  let memory: BurstResult | undefined;
  let memoryDefaultArenas: BurstResult | undefined;
  if (!process.argv.includes('--skip-bursts')) {
    const stores = (argument('stores') ?? 'sqlite,postgres').split(',');
    const workerCounts = (argument('workers') ?? '1,2,3').split(',').map(Number);
    const studies = Number(argument('burst-studies') ?? 25);
    let postgres: TestPostgres | undefined;
    try {
      for (const store of stores) {
        let env: Record<string, string> = {};
        if (store === 'postgres') {
          postgres ??= await startTestPostgres();
          env = { PULSE_QUEUE_BACKEND: 'postgres', PULSE_QUEUE_POSTGRES_URL: postgres.url };
        }
        for (const workers of workerCounts) {
          process.stdout.write(`burst: ${studies} studies of 10 x 25, ${workers} worker(s), ${store}\n`);
          bursts.push(await runBurst({ workers, studies, slices: 10, phases: 25, store, env: store === 'postgres' ? { ...env, PULSE_QUEUE_POSTGRES_SCHEMA: `bench_${workers}_${Date.now()}` } : env }));
        }
      }
    } finally {
      await postgres?.stop();
    }
    const memoryStudies = Number(argument('memory-studies') ?? 20);
    process.stdout.write(`memory burst: ${memoryStudies} studies of 12 x 30, 1 worker, sqlite\n`);
    memory = await runBurst({ workers: 1, studies: memoryStudies, slices: 12, phases: 30 });
    if (process.argv.includes('--compare-arenas')) {
      // The same burst with glibc's default arenas (no MALLOC_ARENA_MAX), side by side.
      process.stdout.write(`memory burst: the same with glibc's default malloc arenas\n`);
      memoryDefaultArenas = await runBurst({ workers: 1, studies: memoryStudies, slices: 12, phases: 30, env: { MALLOC_ARENA_MAX: '' } });
    }
  }

  const results = {
    date: new Date().toISOString(),
    // Other processes inflate every figure; the load average says how busy the machine was.
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', node: process.version, load_average_1m_at_start: Math.round(loadAtStart * 100) / 100, load_average_1m_after_pipeline: Math.round(loadAfterPipeline * 100) / 100 },
    model: { name: model.manifest.name, version: model.manifest.version, input: model.manifest.input.shape },
    pipeline,
    throughput: bursts.map((b) => ({ store: b.store, workers: b.workers, studies: b.studies, study: b.study, wall_ms: b.wallMs, studies_per_hour: b.studiesPerHour, peak_rss_mb_per_worker: b.peakRssMb, peak_rss_mb_all_workers: b.peakRssMbAllWorkers, health_p99_ms: b.health.p99Ms, load_average_1m: b.loadAverage1m, stages_ms: b.stagesMs })),
    throughput_target_studies_per_hour: 1000,
    memory: memory ? { studies: memory.studies, study: memory.study, malloc_arena_max: 2, peak_rss_mb: memory.peakRssMb, peak_rss_mb_default_arenas: memoryDefaultArenas?.peakRssMb ?? null, target_mb: 600, wall_ms: memory.wallMs, health_p99_ms: memory.health.p99Ms, load_average_1m: memory.loadAverage1m } : null,
  };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`${benchTable(results)}\nwritten ${out}\n`);
}

/** The one table `npm run bench` prints (and the README shows). */
function benchTable(r: {
  machine: { cpus: number; load_average_1m_at_start: number };
  model: { name: string; version: string };
  pipeline: { study: { slices: number; phases: number }; threads: number; runs: number; batch_size: number; stages_ms: Record<string, number>; end_to_end_ms: number; pure_inference_ms: number; ratio_end_to_end_to_inference: number; target_ratio: number };
  throughput: Array<{ store: string; workers: number; studies: number; wall_ms: number; studies_per_hour: number; peak_rss_mb_per_worker: number; health_p99_ms: number; load_average_1m: { mean: number } }>;
  memory: { studies: number; peak_rss_mb: number; peak_rss_mb_default_arenas: number | null; target_mb: number; load_average_1m: { mean: number } } | null;
}): string {
  const p = r.pipeline;
  const rows: Array<[string, string]> = [
    ...Object.entries(p.stages_ms).map(([k, v]): [string, string] => [`stage ${k}`, `${v.toFixed(1)} ms`]),
    ['end-to-end (processStudy)', `${p.end_to_end_ms.toFixed(1)} ms`],
    ['pure ONNX inference, same slices', `${p.pure_inference_ms.toFixed(1)} ms`],
    ['ratio end-to-end / inference', `${p.ratio_end_to_end_to_inference} (target <= ${p.target_ratio})`],
    ...r.throughput.map((b): [string, string] => [`burst ${b.store}, ${b.workers} worker(s)`, `${b.studies_per_hour} studies/h (${b.studies} studies in ${(b.wall_ms / 1000).toFixed(0)} s; peak RSS ${b.peak_rss_mb_per_worker} MB/worker; /healthz p99 ${b.health_p99_ms} ms; load ${b.load_average_1m.mean})`]),
    ...(r.memory ? [[`peak RSS, ${r.memory.studies} studies of 12 x 30`, `${r.memory.peak_rss_mb} MB with MALLOC_ARENA_MAX=2, ${r.memory.peak_rss_mb_default_arenas ?? '-'} MB without (target < ${r.memory.target_mb}; load ${r.memory.load_average_1m.mean})`] as [string, string]] : []),
    ['cores / load average at start', `${r.machine.cpus} / ${r.machine.load_average_1m_at_start}`],
  ];
  const width = Math.max(...rows.map((row) => row[0].length));
  const head = `PULSE benchmark: ${r.model.name} ${r.model.version}; pipeline on ${p.study.slices} slices x ${p.study.phases} phases, ${p.threads} thread(s), batches of ${p.batch_size}, median of ${p.runs}`;
  return [head, ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`)].join('\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
