/**
 * `npm run bench` (after the build: node dist/bench/run.js): per-stage times of the offline pipeline
 * on a 10-slice x 25-phase synthetic study, and the end-to-end time as a ratio to pure inference:
 * the model's session.run over exactly the calls the pipeline makes for that study (the location
 * pass, then every image in the pipeline's batches), same session options and threads, replayed on a
 * session of the calling thread (the pipeline's own runs on its inference thread), measured in the
 * same run (and the same with the other thread count, side by side); then bursts through the service
 * (bench/burst.ts): 25 studies of 10 x 25 with 1, 2 and 3 worker processes on SQLite and on
 * PostgreSQL (studies per hour), and 20 studies of 12 x 30 with one worker (peak RSS). Prints one
 * table and writes bench/results.json.
 *
 *   node dist/bench/run.js [--model manifest.json] [--threads 1] [--runs 5] [--out bench/results.json]
 *     [--skip-bursts] [--stores sqlite,postgres] [--workers 1,2,3] [--burst-studies 25] [--memory-studies 20]
 *     [--worker-threads 1]  (onnxruntime threads of each burst worker; PULSE_MODEL_THREADS)
 *     [--compare-arenas]  (the memory burst again without MALLOC_ARENA_MAX=2)
 *
 * Both measurements alternate within one process, so background load affects them alike; the
 * reported figures are medians.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { generateStudy } from '../src/synth/index.js';
import { processStudy } from '../src/pipeline/process-study.js';
import { StageTimer } from '../src/core/stage-timer.js';
import { ModelRegistry } from '../src/model/registry.js';
import { loadModel, readStep } from '../src/pipeline/steps.js';
import { DEFAULT_INTRA_OP_THREADS, ModelSession } from '../src/model/session.js';
import { SEGMENTATION_BATCH_SIZE } from '../src/model/segment-stack.js';
import { runBurst, type BurstResult } from './burst.js';
import { startTestPostgres, type TestPostgres } from '../test/support/postgres.js';
import { argument, median } from './args.js';



async function main(): Promise<void> {
  const manifestPath = argument('model');
  const threads = Number(argument('threads') ?? DEFAULT_INTRA_OP_THREADS);
  const runs = Number(argument('runs') ?? 5);
  const out = resolve(argument('out') ?? 'bench/results.json');

  const loadAtStart = loadavg()[0]!;
  const study = generateStudy({ seed: 1, group: 'NOR', slices: 10, phases: 25 });
  const instances = study.files.map((f) => ({ source: f.name, bytes: f.bytes }));
  const models = new ModelRegistry();
  const model = await loadModel(models, manifestPath, threads);
  const options = { ...(manifestPath ? { manifestPath } : {}), threads, models };
  // Pure inference runs on sessions of this thread (ModelSession: session.run alone, no thread hop),
  // opened with the options the pipeline's session has; and with the other thread count beside it.
  const otherThreads = threads === 1 ? 2 : 1;
  const direct = await ModelSession.create(model.manifest, { threads });
  const other = await ModelSession.create(model.manifest, { threads: otherThreads });

  // Pure inference, defined as the model's session.run over exactly the calls the pipeline makes for
  // this study (the location pass's coarse slices, then every image in batches of the pipeline's
  // size), with the same threads: the calls are recorded during the warm-up study and replayed on
  // their recorded inputs, one after the other, on a session of this thread. The pipeline runs its
  // model on an inference thread of its own (model/inference-thread.ts) and keeps batches in flight;
  // everything it does beyond these calls (its thread hops included) is its overhead.
  const session = model.session;
  const pipelineRun = session.run.bind(session);
  const recorded: Array<{ input: Float32Array; count: number; withFeatures: boolean }> = [];
  let recording = true;
  session.run = async (input, count, withFeatures = false, runOptions) => {
    if (recording) {
      const { channels, rows, columns } = session.shape;
      // Copied before the pipeline's batch moves to the inference thread.
      recorded.push({ input: input.slice(0, count * channels * rows * columns), count, withFeatures });
    }
    return pipelineRun(input, count, withFeatures, runOptions);
  };
  const sessionRun = direct.run.bind(direct);
  await processStudy(instances, options);
  recording = false;
  const cine = readStep(instances, new StageTimer());
  const { slices, phases } = cine.grid;
  const inferredSlices = recorded.reduce((sum, call) => sum + call.count, 0);
  // What is not one of the study's slices is the location pass (segment-stack.ts locateHeart).
  const locateCalls = recorded.filter((_, i) => recorded.slice(i).reduce((sum, call) => sum + call.count, 0) > slices * phases);
  const replay = async (run: (input: Float32Array, count: number, withFeatures: boolean) => Promise<unknown>): Promise<{ totalMs: number; locateMs: number }> => {
    let locateMs = 0;
    const t = performance.now();
    for (const call of recorded) {
      const c = performance.now();
      await run(call.input, call.count, call.withFeatures);
      if (locateCalls.includes(call)) locateMs += performance.now() - c;
    }
    return { totalMs: performance.now() - t, locateMs };
  };
  const otherRun = other.run.bind(other);

  // Warm-up (first-run allocations), then alternate the measurements.
  await replay(sessionRun);
  await replay(otherRun);
  const pure: number[] = [];
  const locate: number[] = [];
  const pureOther: number[] = [];
  const endToEnd: number[] = [];
  const stages: Array<Record<string, number>> = [];
  for (let i = 0; i < runs; i++) {
    const p = await replay(sessionRun);
    pure.push(p.totalMs);
    locate.push(p.locateMs);
    const t = performance.now();
    const outputs = await processStudy(instances, options);
    endToEnd.push(performance.now() - t);
    stages.push(outputs.result.timings_ms);
    pureOther.push((await replay(otherRun)).totalMs);
  }
  const stageNames = Object.keys(stages[0]!);
  const stageMedians = Object.fromEntries(stageNames.map((s) => [s, Math.round(median(stages.map((x) => x[s] ?? 0)) * 10) / 10]));
  const pureMs = median(pure);
  const e2eMs = median(endToEnd);
  await direct.release();
  await other.release();
  await models.close();
  const round1 = (v: number): number => Math.round(v * 10) / 10;
  const pipeline = {
    study: { slices, phases, rows: cine.grid.images[0]![0]!.plane.rows, columns: cine.grid.images[0]![0]!.plane.columns, images: slices * phases },
    threads,
    runs,
    batch_size: SEGMENTATION_BATCH_SIZE,
    stages_ms: stageMedians,
    end_to_end_ms: round1(e2eMs),
    pure_inference: 'session.run over the calls the pipeline makes (location pass + every image in its batches), same session options and threads, replayed one after the other on the recorded inputs on a session of the calling thread',
    pure_inference_calls: recorded.length,
    pure_inference_slices: inferredSlices,
    pure_inference_ms: round1(pureMs),
    pure_inference_location_pass_ms: round1(median(locate)),
    pure_inference_ms_per_slice: Math.round((pureMs / inferredSlices) * 100) / 100,
    pure_inference_other_threads: { threads: otherThreads, ms: round1(median(pureOther)) },
    ratio_end_to_end_to_inference: Math.round((e2eMs / pureMs) * 1000) / 1000,
    target_ratio: 1.2,
  };
  const loadAfterPipeline = loadavg()[0]!;

  // Bursts through the service (pulse serve processes, a real Orthanc): throughput for 1-3 workers on
  // each job store, and the peak RSS of one worker through a burst of large studies.
  const bursts: BurstResult[] = [];
  const workerThreads = argument('worker-threads');
  let memory: BurstResult | undefined;
  let memoryDefaultArenas: BurstResult | undefined;
  if (!process.argv.includes('--skip-bursts')) {
    const stores = (argument('stores') ?? 'sqlite,postgres').split(',');
    const workerCounts = (argument('workers') ?? '1,2,3').split(',').map(Number);
    const studies = Number(argument('burst-studies') ?? 25);
    const threadsEnv: Record<string, string> = workerThreads ? { PULSE_MODEL_THREADS: workerThreads } : {};
    let postgres: TestPostgres | undefined;
    try {
      for (const store of stores) {
        let env: Record<string, string> = { ...threadsEnv };
        if (store === 'postgres') {
          postgres ??= await startTestPostgres();
          env = { ...env, PULSE_QUEUE_BACKEND: 'postgres', PULSE_QUEUE_POSTGRES_URL: postgres.url };
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
    if (memoryStudies > 0) {
      process.stdout.write(`memory burst: ${memoryStudies} studies of 12 x 30, 1 worker, sqlite\n`);
      memory = await runBurst({ workers: 1, studies: memoryStudies, slices: 12, phases: 30 });
    }
    if (memory && process.argv.includes('--compare-arenas')) {
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
    // onnxruntime threads of each worker process in the bursts (PULSE_MODEL_THREADS; the service's default when not given).
    throughput_threads_per_worker: Number(workerThreads ?? DEFAULT_INTRA_OP_THREADS),
    memory: !memory && existsSync(out) ? previousMemory(out) : memory ? { studies: memory.studies, study: memory.study, malloc_arena_max: 2, peak_rss_mb: memory.peakRssMb, peak_rss_mb_default_arenas: memoryDefaultArenas?.peakRssMb ?? null, target_mb: 600, wall_ms: memory.wallMs, health_p99_ms: memory.health.p99Ms, load_average_1m: memory.loadAverage1m } : null,
  };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`${benchTable(results)}\nwritten ${out}\n`);
}

/** The memory figures of an earlier run (`--memory-studies 0` measures none), marked as such. */
function previousMemory(path: string): MemoryFigures | null {
  const previous = JSON.parse(readFileSync(path, 'utf8')) as { date?: string; memory?: MemoryFigures | null };
  return previous.memory ? { ...previous.memory, measured: previous.memory.measured ?? previous.date ?? null } : null;
}

interface MemoryFigures {
  studies: number;
  peak_rss_mb: number;
  peak_rss_mb_default_arenas: number | null;
  target_mb: number;
  load_average_1m: { mean: number };
  /** When an earlier run measured them (this run measured no memory burst). */
  measured?: string | null;
}

/** The one table `npm run bench` prints (and the README shows). */
function benchTable(r: {
  machine: { cpus: number; load_average_1m_at_start: number };
  model: { name: string; version: string };
  pipeline: { study: { slices: number; phases: number }; threads: number; runs: number; batch_size: number; stages_ms: Record<string, number>; end_to_end_ms: number; pure_inference_ms: number; pure_inference_slices: number; pure_inference_location_pass_ms: number; pure_inference_other_threads: { threads: number; ms: number }; ratio_end_to_end_to_inference: number; target_ratio: number };
  throughput: Array<{ store: string; workers: number; studies: number; wall_ms: number; studies_per_hour: number; peak_rss_mb_per_worker: number; health_p99_ms: number; load_average_1m: { mean: number } }>;
  memory: MemoryFigures | null;
}): string {
  const p = r.pipeline;
  const rows: Array<[string, string]> = [
    ...Object.entries(p.stages_ms).map(([k, v]): [string, string] => [`stage ${k}`, `${v.toFixed(1)} ms`]),
    ['end-to-end (processStudy)', `${p.end_to_end_ms.toFixed(1)} ms`],
    [`pure inference (session.run, the pipeline's calls)`, `${p.pure_inference_ms.toFixed(1)} ms (${p.pure_inference_slices} slices; location pass ${p.pure_inference_location_pass_ms.toFixed(1)} ms)`],
    [`pure inference with ${p.pure_inference_other_threads.threads} thread(s)`, `${p.pure_inference_other_threads.ms.toFixed(1)} ms (same calls, same run)`],
    ['ratio end-to-end / inference', `${p.ratio_end_to_end_to_inference} (target <= ${p.target_ratio})`],
    ...r.throughput.map((b): [string, string] => [`burst ${b.store}, ${b.workers} worker(s)`, `${b.studies_per_hour} studies/h (${b.studies} studies in ${(b.wall_ms / 1000).toFixed(0)} s; peak RSS ${b.peak_rss_mb_per_worker} MB/worker; /healthz p99 ${b.health_p99_ms} ms; load ${b.load_average_1m.mean})`]),
    ...(r.memory ? [[`peak RSS, ${r.memory.studies} studies of 12 x 30`, `${r.memory.peak_rss_mb} MB with MALLOC_ARENA_MAX=2, ${r.memory.peak_rss_mb_default_arenas ?? '-'} MB without (target < ${r.memory.target_mb}; load ${r.memory.load_average_1m.mean}${r.memory.measured ? `; measured ${r.memory.measured}` : ''})`] as [string, string]] : []),
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
