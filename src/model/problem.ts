/**
 * @module
 * A problem found in an object: something ignored or repaired so the rest keeps working. The
 * caller logs it (at a bounded rate per object) and counts it in a metric whose label is the
 * enumerated `reason`, never the field path or a value from the object (issue 11 item 5).
 */

/** Why part of an object was ignored: a closed set, so a metric label stays bounded. */
export const PROBLEM_REASONS = [
  'invalid_ip', 'wrong_family', 'duplicate', 'out_of_range', 'unsupported_protocol', 'invalid_cidr',
  'too_many_backends', 'frontend_conflict', 'not_programmed',
] as const;
export type ProblemReason = (typeof PROBLEM_REASONS)[number];

export type Problem = {
  /** "Kind namespace/name", e.g. "Service default/web" or "EndpointSlice default/web-abc". */
  object: string;
  /** JSON-path-like field, e.g. "spec.ports[1].nodePort" (for the log line only). */
  field: string;
  reason: ProblemReason;
  message: string;
};

/** "Kind namespace/name" for problem reports. */
export function objectRef(kind: string, meta: { namespace?: string; name?: string } | undefined): string {
  return `${kind} ${meta?.namespace ?? ''}/${meta?.name ?? ''}`;
}
