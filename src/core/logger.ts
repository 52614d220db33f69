/**
 * The logging contract every layer writes to. The service creates a winston logger that satisfies it
 * (service/logger.ts); servers, workers and listeners take this interface so that nothing below the
 * service depends on winston or on the service. Only job ids, study UIDs and our own wording go in:
 * never names, patient IDs, birth dates or accession numbers.
 */
export type LogFields = Record<string, unknown>;

export interface Logger {
  error(message: string, fields?: LogFields): unknown;
  warn(message: string, fields?: LogFields): unknown;
  info(message: string, fields?: LogFields): unknown;
  debug(message: string, fields?: LogFields): unknown;
}
