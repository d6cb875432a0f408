/**
 * @module
 * The generation numbers the datapath compares its caches against (datapath/include/conntrack.h):
 *   kpb_nh_gen  routes and neighbours: a flow's cached next hop (MACs, ifindex) is used only while
 *               it was filled under the current value, so bumping it makes every flow ask the FIB
 *               once more. Bump it when a route or a neighbour changes.
 *   kpb_be_gen  lb_backends: a flow re-checks that its backend still exists only when this moved,
 *               instead of looking lb_backends up on every packet. Bump it after a sync that may
 *               have removed backends.
 * Both are ARRAY maps of one __u32 at key 0, written only by the agent.
 */

/** What bumpGeneration needs of a BpfMap (a plain ARRAY of one __u32). */
export type GenerationMap = {
  lookup(key: number): unknown;
  update(key: number, value: number): void;
};

/** Add one to the generation at key 0 (wrapping at 2^32) and return the new value. */
export function bumpGeneration(map: GenerationMap): number {
  const cur = Number(map.lookup(0) ?? 0);
  const next = (cur + 1) >>> 0;
  map.update(0, next);
  return next;
}
