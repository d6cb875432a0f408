/**
 * @module
 * The node name kube-proxy uses to find its Node and its endpoints: the override, else the OS
 * hostname, trimmed and lowercased (upstream's nodeutil.GetHostname).
 */

/** @throws Error when the result is empty */
export function resolveNodeName(hostnameOverride: string, osHostname: string): string {
  const name = (hostnameOverride.trim() !== '' ? hostnameOverride : osHostname).trim().toLowerCase();
  if (name === '') throw new Error('Cannot determine the node name: empty hostname is invalid (set --hostname-override)');
  return name;
}
