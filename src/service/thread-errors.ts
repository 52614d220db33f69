/**
 * Errors across a worker-thread boundary: sent by name, message and stack, and rebuilt on the other
 * side as the same classes, so a job or calibration run still tells bad input from our bugs. Shared by
 * the pipeline threads and the calibration thread (a module with no worker entry of its own: importing
 * it from a thread starts nothing).
 */
import { BadInputError, UnsupportedEncodingError, UpstreamUnavailableError } from '../core/errors.js';

export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  readonly transferSyntaxUID?: string;
}

export function serializeError(error: unknown): SerializedError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const transferSyntaxUID = error instanceof UnsupportedEncodingError ? error.transferSyntaxUID : undefined;
  return { name: error.name, message: error.message, ...(error.stack !== undefined ? { stack: error.stack } : {}), ...(transferSyntaxUID !== undefined ? { transferSyntaxUID } : {}) };
}

/** The same error class on this side (messages already name the study). */
export function rebuildError(e: SerializedError): Error {
  let error: Error;
  if (e.transferSyntaxUID !== undefined) error = new UnsupportedEncodingError(e.message, e.transferSyntaxUID);
  else if (e.name === 'BadInputError' || e.name === 'ReferenceSegError' || e.name === 'CalibrationNotFoundError') error = new BadInputError(e.message);
  else if (e.name === 'UpstreamUnavailableError') error = new UpstreamUnavailableError(e.message);
  else {
    error = new Error(e.message);
    // Keep the original class name in the reason ("internal error: TypeError: ...").
    if (e.name !== 'Error') Object.defineProperty(error, 'name', { value: e.name });
  }
  if (e.stack !== undefined) error.stack = e.stack;
  return error;
}
