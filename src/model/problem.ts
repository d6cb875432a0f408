/**
 * @module
 * A problem found in an object: something ignored or repaired so the rest keeps working. The
 * caller logs each once per object version and counts it in a metric.
 */

export type Problem = {
  /** "Kind namespace/name", e.g. "Service default/web" or "EndpointSlice default/web-abc". */
  object: string;
  /** JSON-path-like field, e.g. "spec.ports[1].nodePort". */
  field: string;
  message: string;
};

/** "Kind namespace/name" for problem reports. */
export function objectRef(kind: string, meta: { namespace?: string; name?: string } | undefined): string {
  return `${kind} ${meta?.namespace ?? ''}/${meta?.name ?? ''}`;
}
