/**
 * @module
 * The V8 flags the agent runs with (the single binary's SEA execArgv; benchmarks run the pipeline
 * with them too). A small young generation keeps the steady heap, and so the RSS, small: the agent
 * allocates in bursts (a list, a full sync) and then lives on a few long-lived structures, and V8
 * keeps the semi-spaces it grew. Measured with e2e/bench/sync-micro.ts at 10k Services x 10
 * endpoints: heapTotal 230 -> 108 MiB after the changes for about 3% more CPU at the first sync.
 * The gc extension (--expose-gc) lets the agent compact the heap once after its first sync
 * (compact-heap.ts), which V8's memory reducer does only after a quiet period.
 */
export const AGENT_V8_FLAGS: readonly string[] = ['--max-semi-space-size=1', '--expose-gc'];
