/** Reads the configuration: JSON file, then environment, then flags (later wins), validated once. */
import { readFileSync } from 'node:fs';
import { CheckedConfigSchema, type ServiceConfig } from './schema.js';
import { configFromEnvironment } from './environment.js';

export interface ConfigSources {
  /** Path of a JSON configuration file. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Settings from CLI flags (same shape as the file). */
  overrides?: Record<string, unknown>;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Deep merge of plain objects; arrays and scalars of `top` replace those of `base`; undefined is ignored. */
export function mergeConfig(base: Record<string, unknown>, top: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(top)) {
    if (value === undefined) continue;
    const current = out[key];
    out[key] = isPlainObject(current) && isPlainObject(value) ? mergeConfig(current, value) : value;
  }
  return out;
}

/** The validated configuration; errors name the setting and the source that set it wrong. */
export function loadConfig(sources: ConfigSources = {}): ServiceConfig {
  let fromFile: Record<string, unknown> = {};
  if (sources.file) {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(sources.file, 'utf8'));
    } catch (error) {
      throw new Error(`configuration file ${sources.file} cannot be read: ${(error as Error).message}`);
    }
    if (!isPlainObject(raw)) throw new Error(`configuration file ${sources.file} must hold a JSON object`);
    fromFile = raw;
  }
  const merged = mergeConfig(mergeConfig(fromFile, configFromEnvironment(sources.env ?? {})), sources.overrides ?? {});
  const parsed = CheckedConfigSchema.safeParse(merged);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`invalid configuration${sources.file ? ` (file ${sources.file}, environment, flags)` : ''}: ${issues}`);
  }
  return parsed.data;
}
