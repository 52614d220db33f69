/**
 * Secrets given as command-line flags show in `ps`, shell history and process listings: they still
 * work (a quick local try), but each prints a warning naming the safer variable to use instead.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { splitUrlCredentials } from '../util/redact.js';

/** Option key (commander's camelCase) -> the environment variables to use instead. */
export type SecretFlags = Readonly<Record<string, string>>;

/** Warns on stderr for each secret option that came from the command line; returns the warnings. */
export function warnSecretFlags(command: Command, secrets: SecretFlags, err: NodeJS.WritableStream = process.stderr): string[] {
  const warnings: string[] = [];
  for (const [key, variable] of Object.entries(secrets)) {
    if (command.getOptionValueSource(key) !== 'cli') continue;
    const flag = `--${key.replace(/[A-Z]/gu, (c) => `-${c.toLowerCase()}`)}`;
    warnings.push(`warning: ${flag} on the command line is visible to every user of this machine (ps); set ${variable}_FILE (a file only you can read) or ${variable} instead`);
  }
  // A URL flag with credentials in it (--orthanc http://user:pw@host) is a secret on the command line too.
  const orthanc = command.getOptionValueSource('orthanc') === 'cli' ? command.getOptionValue('orthanc') : undefined;
  if (typeof orthanc === 'string' && splitUrlCredentials(orthanc).username !== undefined) {
    warnings.push('warning: --orthanc holds credentials, visible to every user of this machine (ps); give the URL without them and set PULSE_ORTHANC_USERNAME / PULSE_ORTHANC_PASSWORD_FILE instead');
  }
  for (const line of warnings) err.write(`pulse: ${line}\n`);
  return warnings;
}

/** A secret from `NAME` or the file named by `NAME_FILE` (trailing line break dropped). */
export function secretFromEnvironment(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const file = env[`${name}_FILE`];
  if (file !== undefined && file !== '') {
    try {
      return readFileSync(file, 'utf8').replace(/\r?\n$/u, '');
    } catch (error) {
      throw new Error(`${name}_FILE names ${file}, which cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }
  const value = env[name];
  return value === '' ? undefined : value;
}
