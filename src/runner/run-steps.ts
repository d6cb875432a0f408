/**
 * @module
 * Runs work written as a generator of steps (a verifying sync's comparison of the maps,
 * lb-reconcile.ts) without holding the event loop: after every `sliceMs` of steps it gives the
 * event loop a turn, so watch events are received, and ends the run (return()) when `stop()` then
 * says so: changes are waiting and are programmed first. What the steps were doing decides what
 * that means: the verifying comparison stays paused and the next sync resumes it
 * (lb-programmer.ts verifySteps()); a stale-connection reaping is dropped at shutdown.
 */

export type RunStepsOptions = {
  /** Longest run of steps between two turns of the event loop. */
  sliceMs: number;
  now: () => number;
  /** Asked after each turn of the event loop: true drops the run. */
  stop: () => boolean;
  /** One turn of the event loop. @default setImmediate */
  turn?: () => Promise<void>;
};

export type StepsOutcome<T> = { done: true; value: T; turns: number } | { done: false; turns: number };

const setImmediateTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function runSteps<T>(steps: Generator<void, T, void>, o: RunStepsOptions): Promise<StepsOutcome<T>> {
  if (!(o.sliceMs >= 0)) throw new RangeError(`Invalid sliceMs "${o.sliceMs}"`);
  const turn = o.turn ?? setImmediateTurn;
  let turns = 0;
  let sliceStart = o.now();
  for (;;) {
    const r = steps.next();
    if (r.done) return { done: true, value: r.value, turns };
    if (o.now() - sliceStart < o.sliceMs) continue;
    await turn();
    turns++;
    if (o.stop()) {
      steps.return(undefined as T);
      return { done: false, turns };
    }
    sliceStart = o.now();
  }
}
