// A stack of cleanup steps. Each resource the harness creates registers how to remove itself right
// after it exists, so a failure halfway through start-up still removes exactly what was made.
// SIGINT/SIGTERM run the stack too: an interrupted `make test` must not leave namespaces, pins,
// cgroups or daemons behind.

type Step = { what: string; fn: () => Promise<void> | void };

const live = new Set<Teardown>();
let signalsHooked = false;

function hookSignals(): void {
  if (signalsHooked) return;
  signalsHooked = true;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      const all = [...live].map((t) => t.run());
      // Bounded: a stuck cleanup must not keep the process alive forever after ^C.
      const guard = setTimeout(() => process.exit(sig === 'SIGINT' ? 130 : 143), 20_000);
      void Promise.allSettled(all).then(() => {
        clearTimeout(guard);
        process.exit(sig === 'SIGINT' ? 130 : 143);
      });
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
  add(what: string, fn: () => Promise<void> | void): void {
    this.#steps.push({ what, fn });
  }

  /**
   * Runs every step once, even when some fail, and rejects at the end listing each failure.
   * Concurrent callers (test hook and signal) share one run.
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
}
