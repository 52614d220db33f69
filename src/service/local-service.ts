/**
 * The service beside a local Orthanc (`pulse demo`): settings from PULSE_* variables and defaults,
 * the bundled model, the changes feed. One call for the demo's wiring.
 */
import { loadConfig } from '../config/load.js';
import { createPipelineProcessor, processorOptionsOf } from './pipeline-processor.js';
import { startService, type RunningService } from './service.js';

export interface LocalServiceOptions {
  readonly orthancUrl: string;
  /** Queue database and cursor folder. */
  readonly dataDir: string;
  /** HTTP port; 0 picks a free one. @defaultValue 8088 (or PULSE_PORT) */
  readonly port?: number;
  readonly env?: NodeJS.ProcessEnv;
  /** Serve the OHIF viewer under /ohif/ (viewer.ohif). @defaultValue false (or PULSE_VIEWER_OHIF) */
  readonly ohif?: boolean;
}

export function startLocalService(options: LocalServiceOptions): Promise<RunningService> {
  const config = loadConfig({
    env: options.env ?? process.env,
    overrides: { orthanc: { url: options.orthancUrl }, dataDir: options.dataDir, server: { port: options.port }, ...(options.ohif !== undefined ? { viewer: { ohif: options.ohif } } : {}) },
  });
  const processor = createPipelineProcessor(processorOptionsOf(config));
  return startService({ config, processor });
}
