/**
 * A job store opened on first use, and again on each use until it opens. A data folder that is
 * read-only, full or not yet mounted when the service starts must not end the service (a container
 * restarting in a loop, with nothing in /readyz): every store operation fails with the store's own
 * error until the folder can be written, which the worker, the changes listener and readiness already
 * handle as a store that cannot be written; then the store opens and the service carries on.
 */
import type { JobStore } from './job-store.js';

/** `open` runs at most once per `retryMs` while it fails; its last error is what each operation throws. */
export function deferredJobStore(open: () => JobStore, retryMs = 2000): JobStore {
  let store: JobStore | undefined;
  let lastTry = Number.NEGATIVE_INFINITY;
  let lastError: unknown;
  let closed = false;
  const current = (): JobStore => {
    if (store !== undefined) return store;
    if (closed) throw new Error('the job store is closed');
    if (Date.now() - lastTry >= retryMs) {
      lastTry = Date.now();
      try {
        store = open();
        return store;
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  };
  try {
    current();
  } catch {
    // Reported by the first operation (and by readiness) until the folder can be written.
  }
  return new Proxy({} as JobStore, {
    get(_target, property) {
      if (property === 'close') {
        return async () => {
          closed = true;
          await store?.close();
        };
      }
      if (property === 'then') return undefined;
      return async (...args: unknown[]) => {
        const target = current();
        const method = Reflect.get(target, property, target) as unknown;
        if (typeof method !== 'function') throw new TypeError(`the job store has no operation ${String(property)}`);
        return (method as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}
