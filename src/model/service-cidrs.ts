/**
 * @module
 * serviceCidrsOf: the cluster's service CIDRs from its ServiceCIDR objects (networking.k8s.io/v1,
 * spec.cidrs: one or two ranges, one per family), deduplicated and sorted, as kube-proxy's
 * ServiceCIDRConfig collects them for the nftables mode (spec §5.18). The socket LB refuses an
 * address inside them that no Service owns. A range that does not parse is reported on the object
 * and field and left out; the others still apply.
 */
import type { ServiceCIDRProjection } from '../kube/projections.ts';
import { parseCidr, type ParsedCidr } from './ip.ts';
import { objectRef, type Problem } from './problem.ts';

export function serviceCidrsOf(objects: Iterable<ServiceCIDRProjection>): { cidrs: ParsedCidr[]; problems: Problem[] } {
  const byText = new Map<string, ParsedCidr>();
  const problems: Problem[] = [];
  for (const o of objects) {
    (o.spec?.cidrs ?? []).forEach((text, i) => {
      const c = parseCidr(text);
      if (!c) problems.push({ object: objectRef('ServiceCIDR', o.metadata), field: `spec.cidrs[${i}]`, reason: 'invalid_cidr', message: `invalid CIDR "${text}" ignored` });
      else byText.set(c.text, c);
    });
  }
  return { cidrs: [...byText.values()].sort((a, b) => (a.text < b.text ? -1 : a.text > b.text ? 1 : 0)), problems };
}
