/**
 * @module
 * Field errors in Kubernetes' style (k8s.io/apimachinery/pkg/util/validation/field), so a bad
 * config is reported as kube-proxy reports it:
 *   KubeProxyConfiguration.iptables.masqueradeBit: Invalid value: 40: must be within the range [0, 31]
 */

export type FieldErrorType = 'Invalid value' | 'Required value' | 'Unsupported value' | 'Forbidden';

export type FieldError = { type: FieldErrorType; field: string; value?: unknown; detail: string };

export const invalid = (field: string, value: unknown, detail: string): FieldError => ({ type: 'Invalid value', field, value, detail });
export const required = (field: string, detail: string): FieldError => ({ type: 'Required value', field, detail });
export const forbidden = (field: string, detail: string): FieldError => ({ type: 'Forbidden', field, detail });
export const unsupported = (field: string, value: unknown, supported: string[]): FieldError => ({
  type: 'Unsupported value',
  field,
  value,
  detail: `supported values: ${supported.map((s) => JSON.stringify(s)).join(', ')}`,
});

/** One error as field.Error.Error() prints it. */
export function formatFieldError(e: FieldError): string {
  if (e.type === 'Required value' || e.type === 'Forbidden') return `${e.field}: ${e.type}${e.detail ? `: ${e.detail}` : ''}`;
  return `${e.field}: ${e.type}: ${formatValue(e.value)}${e.detail ? `: ${e.detail}` : ''}`;
}

/** Several errors as utilerrors.Aggregate prints them: one bare, more in brackets. */
export function formatFieldErrors(errs: FieldError[]): string {
  const parts = errs.map(formatFieldError);
  return parts.length === 1 ? parts[0] : `[${parts.join(', ')}]`;
}

function formatValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}
