/**
 * @module
 * The per-map policy of pinned-map migration (map-migration.ts) for the datapath's own maps:
 * - MAP_CONVERTERS: how an older version's map becomes this version's maps, for layouts that a
 *   copy or a conversion by field name cannot handle (a changed key, a map split or renamed). A
 *   datapath change that alters a pinned key/value layout adds its converter here, with a test
 *   that converts entries of the old layout; without one, the agent refuses the old pin and says
 *   which map and why.
 * - DATAPATH_WRITTEN: maps the BPF programs write (flows, reservations, affinity). Their entries
 *   created by the old programs between the copy and the moment every program is replaced are
 *   copied once more; the agent-written lb_* maps are not (the first full sync owns them).
 */
import type { MapConverter } from './map-migration.ts';
import { LEGACY_CONNTRACK_CONVERTER } from './convert-conntrack.ts';
import { SNAT_CONVERTERS } from './convert-snat.ts';
import { COUNTER_CONVERTERS } from './convert-counters.ts';
import { generationConverters } from './convert-generations.ts';

export const MAP_CONVERTERS: readonly MapConverter[] = [LEGACY_CONNTRACK_CONVERTER, ...SNAT_CONVERTERS, ...COUNTER_CONVERTERS, ...generationConverters()];

export const DATAPATH_WRITTEN: ReadonlySet<string> = new Set([
  'kpb_ct', 'kpb_ct4', 'kpb_ct6', 'kpb_snat4', 'kpb_snat6', 'kpb_pod_ct4', 'kpb_pod_ct6', 'lb_affinity', 'lb_sock_rev_nat',
]);
