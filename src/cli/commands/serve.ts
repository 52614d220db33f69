/**
 * `pulse serve`: the Orthanc service (discovery, queue, worker, HTTP API). Settings come from
 * --config (JSON), PULSE_* environment variables, then these flags. SIGTERM/SIGINT stop it
 * gracefully: running jobs finish or go back to the queue.
 * `pulse reprocess <studyUID>`: queues a study again for the current model, even when done.
 */
import { Command, Option } from 'commander';
import { parseIntegerOption } from '../integer-option.js';
import { pathToFileURL } from 'node:url';
import { loadConfig } from '../../config/load.js';
import type { ServiceConfig } from '../../config/schema.js';
import { JobPriority } from '../../queue/job-store.js';
import { openJobStore } from '../../queue/open-job-store.js';
import { jobModelKey } from '../../service/job-key.js';
import { createPipelineProcessor, processorOptionsOf } from '../../service/pipeline-processor.js';
import { startService } from '../../service/service.js';
import type { StudyProcessor } from '../../service/study-job.js';
import { warnSecretFlags } from '../secret-flags.js';

interface ServeFlags {
  config?: string;
  orthanc?: string;
  data?: string;
  port?: string;
  host?: string;
  webhookSecret?: string;
  concurrency?: string;
  processorModule?: string;
}

/** The configuration from file, environment and flags (flags win). */
export function configFromFlags(flags: ServeFlags, env: NodeJS.ProcessEnv = process.env): ServiceConfig {
  return loadConfig({
    file: flags.config,
    env,
    overrides: {
      orthanc: { url: flags.orthanc },
      dataDir: flags.data,
      server: { port: flags.port === undefined ? undefined : parseIntegerOption(flags.port, '--port', { min: 0, max: 65535 }), host: flags.host, webhookSecret: flags.webhookSecret },
      queue: { concurrency: flags.concurrency === undefined ? undefined : parseIntegerOption(flags.concurrency, '--concurrency', { min: 1 }) },
    },
  });
}

/**
 * The processor: the real pipeline, or (tests and integrations) a module whose `createProcessor(config)`
 * returns one, named with the hidden --processor-module flag.
 */
async function processorFor(config: ServiceConfig, module: string | undefined): Promise<StudyProcessor> {
  if (module === undefined) return createPipelineProcessor(processorOptionsOf(config));
  const loaded = (await import(pathToFileURL(module).href)) as { createProcessor?: (c: ServiceConfig) => StudyProcessor | Promise<StudyProcessor> };
  if (typeof loaded.createProcessor !== 'function') throw new Error(`${module} does not export createProcessor(config)`);
  return loaded.createProcessor(config);
}

function commonOptions(command: Command): Command {
  return command
    .option('--config <file>', 'JSON configuration file (see src/config/schema.ts)')
    .option('--orthanc <url>', 'Orthanc REST root (PULSE_ORTHANC_URL)')
    .option('--data <dir>', 'data folder for the queue database and cursor (PULSE_DATA_DIR)');
}

export function registerServe(program: Command): void {
  commonOptions(program.command('serve').description('run the Orthanc service: every new cardiac study processed automatically, once'))
    .option('--port <n>', 'HTTP port of the webhook, API, dashboard and metrics (PULSE_PORT)')
    .option('--host <address>', 'interface to listen on (PULSE_HOST)')
    .option('--webhook-secret <secret>', 'shared secret of the Lua webhook (better: PULSE_WEBHOOK_SECRET_FILE)')
    .option('--concurrency <n>', 'studies processed at the same time (PULSE_CONCURRENCY)')
    .addOption(new Option('--processor-module <file>', 'module exporting createProcessor(config), instead of the bundled pipeline').hideHelp())
    .action(async (flags: ServeFlags, command: Command) => {
      warnSecretFlags(command, { webhookSecret: 'PULSE_WEBHOOK_SECRET' });
      const config = configFromFlags(flags);
      const processor = await processorFor(config, flags.processorModule);
      const service = await startService({ config, processor });
      process.stdout.write(`pulse serve: listening on ${service.url} (model ${service.modelKey}, Orthanc ${config.orthanc.url})\n`);
      await new Promise<void>((resolve) => {
        const stop = (signal: NodeJS.Signals): void => {
          service.logger.info('signal received', { signal });
          void service.stop().then(resolve);
        };
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
    });

  commonOptions(program.command('reprocess').description('queue a study again for the current model and calibration, even when already processed'))
    .argument('<studyInstanceUID>', 'Study Instance UID')
    .addOption(new Option('--processor-module <file>', 'module exporting createProcessor(config), instead of the bundled pipeline').hideHelp())
    .action(async (studyInstanceUID: string, flags: ServeFlags) => {
      if (!/^[0-9.]{1,64}$/.test(studyInstanceUID)) throw new Error('the argument must be a Study Instance UID');
      const config = configFromFlags(flags);
      // The model key must be the running service's: same configuration, same manifest.
      const processor = await processorFor(config, flags.processorModule);
      // The job store is shared with a running service (SQLite WAL or PostgreSQL): it picks the job up at its next poll.
      const store = openJobStore(config);
      try {
        const { job } = await store.enqueue({ studyInstanceUID, modelKey: jobModelKey(processor), source: 'cli', force: true, priority: JobPriority.reprocess });
        process.stdout.write(`job ${job.id} ${job.state}\n`);
      } finally {
        await store.close();
      }
    });
}
