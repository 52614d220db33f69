/** Moved to src/core/errors.ts; this re-export lives for one step so that open branches rebase cleanly. */
export * from '../core/errors.js';
