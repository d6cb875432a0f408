/**
 * @module
 * CIDR parsing as Kubernetes' ParseCIDRSloppy accepts it: the address may have host bits set, and
 * IPv4 octets may have leading zeros (read as decimal); zones are refused.
 */
import { parseIp } from '../model/ip.ts';

export type Cidr = { address: string; prefix: number; family: 4 | 6 };

/** Parses `addr/prefix`; returns null for anything that is not a CIDR. */
export function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf('/');
  if (slash < 0) return null;
  const address = text.slice(0, slash);
  const prefixText = text.slice(slash + 1);
  const ip = address.trim() === address ? parseIp(address) : null;
  if (ip === null || !/^\d{1,3}$/.test(prefixText)) return null;
  const family = ip.family === 'IPv4' && !address.includes(':') ? 4 : 6;
  const prefix = Number(prefixText);
  if (prefix > (family === 4 ? 32 : 128)) return null;
  return { address, prefix, family: family as 4 | 6 };
}
