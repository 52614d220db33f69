/**
 * `pulse config check`: the effective configuration (file, then PULSE_* environment, then flags),
 * every default filled in and every secret masked; exit 1 with each invalid setting named.
 */
import type { Command } from 'commander';
import { SECRET_PATHS } from '../../config/environment.js';
import type { ServiceConfig } from '../../config/schema.js';
import { REDACTED } from '../../util/redact.js';
import { warnSecretFlags } from '../secret-flags.js';
import { configFromFlags } from './serve.js';

/** A copy of the configuration with each secret replaced by `***` (lists keep their length). */
export function maskSecrets(config: ServiceConfig): Record<string, unknown> {
  const copy = structuredClone(config) as unknown as Record<string, unknown>;
  for (const path of SECRET_PATHS) {
    const keys = path.split('.');
    let node: Record<string, unknown> | undefined = copy;
    for (const key of keys.slice(0, -1)) node = node?.[key] as Record<string, unknown> | undefined;
    const last = keys[keys.length - 1]!;
    const value = node?.[last];
    if (node === undefined || value === undefined) continue;
    node[last] = Array.isArray(value) ? value.map(() => REDACTED) : REDACTED;
  }
  return copy;
}

export function registerConfig(program: Command): void {
  const config = program.command('config').description('configuration tools');
  config
    .command('check')
    .description('print the effective configuration (secrets masked) and name any invalid setting')
    .option('--config <file>', 'JSON configuration file (see src/config/schema.ts)')
    .option('--orthanc <url>', 'Orthanc REST root (PULSE_ORTHANC_URL)')
    .option('--data <dir>', 'data folder (PULSE_DATA_DIR)')
    .option('--port <n>', 'HTTP port (PULSE_PORT)')
    .option('--host <address>', 'interface to listen on (PULSE_HOST)')
    .option('--webhook-secret <secret>', 'shared secret of the Lua webhook (better: PULSE_WEBHOOK_SECRET_FILE)')
    .action((flags: Record<string, string | undefined>, command: Command) => {
      warnSecretFlags(command, { webhookSecret: 'PULSE_WEBHOOK_SECRET' });
      let effective: ServiceConfig;
      try {
        effective = configFromFlags(flags);
      } catch (error) {
        // loadConfig's message names each setting and why; it never quotes a value.
        process.stderr.write(`pulse config check: ${(error as Error).message}\n`);
        process.exitCode = 1;
        return;
      }
      process.stdout.write(`${JSON.stringify(maskSecrets(effective), null, 2)}\n`);
      process.stderr.write('pulse config check: the configuration is valid\n');
    });
}
