/**
 * @module
 * The generation numbers the datapath compares its caches against (datapath/include/conntrack.h,
 * struct kpb_gens in the ARRAY map kpb_gens, key 0, written only by the agent):
 *   nh  routes and neighbours: a flow's cached next hop (MACs, ifindex) is used only while it was
 *       filled under the current value, so bumping it makes every flow ask the FIB once more.
 *       Bump it when a route or a neighbour changes.
 *   be  lb_backends: a flow re-checks that its backend still exists only when this moved, instead
 *       of looking lb_backends up on every packet. Bump it after a sync that may have removed
 *       backends.
 * Both share one value so that a packet reads them from one cache line.
 */

/** struct kpb_gens, as its codec decodes it. */
export type Generations = { nh: number; be: number };

/** What bumpGeneration needs of a BpfMap (kpb_gens: an ARRAY of one struct kpb_gens). */
export type GenerationMap = {
  lookup(key: number): unknown;
  update(key: number, value: Generations): void;
};

/** Add one to generation `which` at key 0 (wrapping at 2^32), keep the other; return the new value. */
export function bumpGeneration(map: GenerationMap, which: keyof Generations): number {
  const cur = (map.lookup(0) as Partial<Generations> | undefined) ?? {};
  const gens: Generations = { nh: Number(cur.nh ?? 0), be: Number(cur.be ?? 0) };
  gens[which] = (gens[which] + 1) >>> 0;
  map.update(0, gens);
  return gens[which];
}
