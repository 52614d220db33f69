/**
 * The few error classes that steer control flow (see STYLE.md): the queue maps them to retry or fail.
 * Messages never contain patient-identifying data.
 */

/** The input cannot be processed (no cine series, broken pixel data, ...). Never retried. */
export class BadInputError extends Error {
  override readonly name = 'BadInputError';
  constructor(message: string, readonly studyInstanceUID?: string) {
    super(studyInstanceUID ? `${message} (study ${studyInstanceUID})` : message);
  }
}

/** The input uses an encoding we cannot decode here (the service asks Orthanc to transcode). */
export class UnsupportedEncodingError extends BadInputError {
  override readonly name = 'BadInputError';
  constructor(message: string, readonly transferSyntaxUID: string, studyInstanceUID?: string) {
    super(message, studyInstanceUID);
  }
}

/** An upstream system (Orthanc, the database) is unreachable or answered 5xx. Retried with backoff. */
export class UpstreamUnavailableError extends Error {
  override readonly name = 'UpstreamUnavailableError';
}

/** True when a failed job should be retried. Our own bugs (any other error) fail loudly, without retry. */
export function isTransient(error: unknown): boolean {
  return error instanceof UpstreamUnavailableError;
}
