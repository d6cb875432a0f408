/**
 * @module
 * Serialises a KubeProxyConfiguration as v1alpha1 YAML, the way --write-config-to does upstream:
 * keys sorted (upstream converts through JSON maps), every field present, null for unset lists.
 */
import { stringify } from 'yaml';
import type { KubeProxyConfiguration } from './types.ts';

/** YAML text of `config`, ending in a newline. */
export function encodeKubeProxyConfiguration(config: KubeProxyConfiguration): string {
  return stringify(config, { sortMapEntries: true, lineWidth: 0, nullStr: 'null' });
}
