// A stack of cleanup steps. Each resource the harness creates registers how to remove itself right
// after it exists, so a failure halfway through start-up still removes exactly what was made.
//
// SIGINT/SIGTERM run the stack too, synchronously: under `node --test` the runner's own signal
// handler calls process.exit() once it has reported, which would cut an asynchronous cleanup
// short. Listeners run in order within one emit, so finishing our work before returning from the
// listener is the only way to be sure an interrupted `make test` leaves nothing behind. Every step
// that matters on exit therefore also has a synchronous form.

type Step = {
  what: string;
  fn: () => Promise<void> | void;
  /** Synchronous form for signal-time cleanup; steps without one are skipped then. */
  sync?: () => void;
};

const live = new Set<Teardown>();
let signalsHooked = false;

function hookSignals(): void {
  if (signalsHooked) return;
  signalsHooked = true;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      const errors: string[] = [];
      for (const t of live) errors.push(...t.runSync());
      if (errors.length > 0) console.error(`teardown after ${sig} left errors:\n  ${errors.join('\n  ')}`);
      // Under a test runner its own handler reports and exits; alone, we must exit ourselves.
      if (process.listenerCount(sig) === 1) process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
}

export class Teardown {
  #steps: Step[] = [];
  #running: Promise<void> | undefined;

  constructor() {
    hookSignals();
    live.add(this);
  }

  /** Registers a cleanup step; steps run last-registered first. */
  add(what: string, fn: () => Promise<void> | void, sync?: () => void): void {
    this.#steps.push({ what, fn, sync });
  }

  /**
   * Runs every step once, even when some fail, and rejects at the end listing each failure.
   * Concurrent callers share one run.
   */
  run(): Promise<void> {
    this.#running ??= (async () => {
      const errors: string[] = [];
      while (this.#steps.length > 0) {
        const step = this.#steps.pop()!;
        try {
          await step.fn();
        } catch (err) {
          errors.push(`${step.what}: ${(err as Error).message}`);
        }
      }
      live.delete(this);
      if (errors.length > 0) throw new Error(`teardown left errors:\n  ${errors.join('\n  ')}`);
    })();
    return this.#running;
  }

  /** Signal-time cleanup: runs the synchronous form of every remaining step; returns the failures. */
  runSync(): string[] {
    const errors: string[] = [];
    while (this.#steps.length > 0) {
      const step = this.#steps.pop()!;
      try {
        step.sync?.();
      } catch (err) {
        errors.push(`${step.what}: ${(err as Error).message}`);
      }
    }
    live.delete(this);
    return errors;
  }
}
