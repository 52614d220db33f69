/**
 * A loopback proxy in front of a real Orthanc that cuts chosen answers short, the way an Orthanc that
 * stops mid-answer does (the fault proxy's `cut`: headers and the first bytes arrive, then the
 * connection closes, with no framing, so to the client the cut-off body looks complete).
 */
import { startFaultProxy } from './fault-proxy.js';

export interface CuttingProxy {
  readonly url: string;
  /** Answers cut so far. */
  readonly cuts: number;
  close(): Promise<void>;
}

/** `shouldCut(method, path)` is asked for each request; up to `times` matching answers deliver `keepBytes` of the body and end. */
export async function startCuttingProxy(target: string, shouldCut: (method: string, path: string) => boolean, options: { keepBytes: number; times: number }): Promise<CuttingProxy> {
  const proxy = await startFaultProxy(target);
  proxy.cut(shouldCut, options);
  return {
    url: proxy.url,
    get cuts() {
      return proxy.stats.cuts;
    },
    close: () => proxy.close(),
  };
}
