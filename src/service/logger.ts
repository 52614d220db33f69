/**
 * Structured logs (winston, JSON lines). Only job ids, study UIDs and our own wording go in:
 * never names, patient IDs, birth dates or accession numbers.
 */
import winston from 'winston';
import type { Logger } from '../core/logger.js';

export type { Logger } from '../core/logger.js';

/** A JSON-lines logger on stderr that satisfies the core Logger contract. */
export function createLogger(level: string, options: { silent?: boolean } = {}): Logger {
  return winston.createLogger({
    level,
    silent: options.silent ?? false,
    format: winston.format.combine(winston.format.timestamp(), winston.format.errors({ stack: true }), winston.format.json()),
    defaultMeta: { service: 'pulse' },
    transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] })],
  });
}
