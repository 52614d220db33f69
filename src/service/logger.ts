/**
 * Structured logs (winston, JSON lines). Only job ids, study UIDs and our own wording go in:
 * never names, patient IDs, birth dates or accession numbers. Every line passes a redactor first:
 * credentials in URLs and the configured secrets (tokens, passwords) never reach a transport.
 */
import type { Writable } from 'node:stream';
import winston from 'winston';
import type { Logger } from '../core/logger.js';
import { createRedactor, redactDeep } from '../util/redact.js';

export type { Logger } from '../core/logger.js';

export interface LoggerOptions {
  silent?: boolean;
  /** Secret values masked wherever they appear in a line (tokens, passwords, the webhook secret). */
  secrets?: readonly (string | undefined)[];
  /** Write here instead of stderr (tests read the lines back). */
  stream?: Writable;
}

/** A JSON-lines logger (stderr by default) that satisfies the core Logger contract. */
export function createLogger(level: string, options: LoggerOptions = {}): Logger {
  const redact = createRedactor(options.secrets);
  const scrub = winston.format((info) => {
    // Mutate in place: winston keeps its own symbol keys (level, message) on this object.
    for (const key of Object.keys(info)) (info as Record<string, unknown>)[key] = redactDeep(info[key], redact);
    return info;
  });
  return winston.createLogger({
    level,
    silent: options.silent ?? false,
    format: winston.format.combine(winston.format.timestamp(), winston.format.errors({ stack: true }), scrub(), winston.format.json()),
    defaultMeta: { service: 'pulse' },
    transports: [
      options.stream !== undefined
        ? new winston.transports.Stream({ stream: options.stream })
        : new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] }),
    ],
  });
}
