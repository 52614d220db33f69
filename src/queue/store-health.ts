/**
 * Whether the job store can be written now. A full disk or a read-only data folder must not end the
 * service: the worker records the failure here, keeps running, and readiness reports it until a write
 * succeeds again.
 */

export class StoreHealth {
  private failure: { readonly at: number; readonly message: string } | undefined;

  /** Runs one store operation; a failure is recorded (and rethrown) so readiness can say why. */
  async guard<T>(operation: () => Promise<T>): Promise<T> {
    try {
      const value = await operation();
      this.failure = undefined;
      return value;
    } catch (error) {
      this.failure = { at: Date.now(), message: describeStoreError(error) };
      throw error;
    }
  }

  /** Why the store cannot be written, or undefined when the last operation succeeded. */
  get problem(): string | undefined {
    return this.failure === undefined ? undefined : `job store cannot be written since ${new Date(this.failure.at).toISOString()}: ${this.failure.message}`;
  }
}

/** SQLite's code (SQLITE_FULL, SQLITE_READONLY) or the system's (ENOSPC, EROFS) with the message. */
export function describeStoreError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}

/**
 * Errors of a database server that is down, restarting or out of reach (node-postgres): system codes
 * of the socket, SQLSTATE classes 08 (connection exception) and 57P (operator intervention: shutdown),
 * and the pool's own messages. Such a failure passes when the server is back; a full disk does not.
 */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', '57P01', '57P02', '57P03', '53300']);
const UNREACHABLE_MESSAGES = /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Query read timeout/iu;

export function isStoreUnreachable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (UNREACHABLE_CODES.has(code) || code.startsWith('08'))) return true;
  return UNREACHABLE_MESSAGES.test(error.message);
}
