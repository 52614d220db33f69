/** A poll-loop pause that another caller can cut short (a job queued, a stop requested). */
export class WakeableSleep {
  private wake: (() => void) | undefined;

  /** Resolves after `ms`, or as soon as `wakeUp()` is called. */
  sleep(ms: number): Promise<void> {
    return new Promise<void>((done) => {
      const timer = setTimeout(finish, ms);
      const self = this;
      function finish(): void {
        clearTimeout(timer);
        self.wake = undefined;
        done();
      }
      this.wake = finish;
    });
  }

  /** Ends the current pause, if any. */
  wakeUp(): void {
    this.wake?.();
  }
}
