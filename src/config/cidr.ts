/**
 * @module
 * CIDR parsing as Go's net.ParseCIDR accepts it (the address may have host bits set).
 */
import { isIP } from 'node:net';

export type Cidr = { address: string; prefix: number; family: 4 | 6 };

/** Parses `addr/prefix`; returns null for anything that is not a CIDR. */
export function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf('/');
  if (slash < 0) return null;
  const address = text.slice(0, slash);
  const prefixText = text.slice(slash + 1);
  const family = isIP(address);
  if (family === 0 || !/^\d{1,3}$/.test(prefixText)) return null;
  const prefix = Number(prefixText);
  if (prefix > (family === 4 ? 32 : 128)) return null;
  return { address, prefix, family: family as 4 | 6 };
}
