/**
 * @module
 * Maglev lookup tables (Eisenbud et al., "Maglev: A Fast and Reliable Software Network Load
 * Balancer", NSDI 2016, §3.4), as Cilium and Katran build them: each backend gets a permutation
 * of the M slots from an offset and a skip derived from two independent hashes of its identity,
 * and the backends take turns claiming their next free preferred slot until the table is full.
 * Every node computes the same table from the same backend set, so a flow lands on the same
 * backend whichever node receives it, and losing one backend moves only about 1/N of the slots.
 */
import { createHash } from 'node:crypto';

export const MAGLEV_M_DEFAULT = 16381;

export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

/** Two 32-bit hashes of the identity; SHA-256 halves are independent enough for offset/skip. */
function hashes(identity: string): [number, number] {
  const d = createHash('sha256').update(identity).digest();
  return [d.readUInt32LE(0), d.readUInt32LE(4)];
}

/**
 * Builds the table: entry i is the backend id for hash bucket i.
 * @param backends id and stable identity (address|port|proto) of each backend; the order does not
 *   matter (they are sorted by identity so every node agrees).
 * @param m table size, a prime larger than the backend count.
 */
export function maglevTable(backends: { id: number; identity: string }[], m: number = MAGLEV_M_DEFAULT): Uint32Array {
  if (!isPrime(m)) throw new RangeError(`Maglev table size "${m}" is not a prime`);
  const table = new Uint32Array(m);
  if (backends.length === 0) return table;
  if (backends.length > m) throw new RangeError(`Maglev table size "${m}" is smaller than the backend count ${backends.length}`);
  const sorted = [...backends].sort((a, b) => (a.identity < b.identity ? -1 : a.identity > b.identity ? 1 : a.id - b.id));
  const n = sorted.length;
  const offset = new Array<number>(n);
  const skip = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const [h1, h2] = hashes(sorted[i].identity);
    offset[i] = h1 % m;
    skip[i] = (h2 % (m - 1)) + 1;
  }
  const next = new Array<number>(n).fill(0);
  const filled = new Uint8Array(m);
  let count = 0;
  for (;;) {
    for (let i = 0; i < n; i++) {
      let c = (offset[i] + next[i] * skip[i]) % m;
      while (filled[c]) {
        next[i]++;
        c = (offset[i] + next[i] * skip[i]) % m;
      }
      filled[c] = 1;
      table[c] = sorted[i].id;
      next[i]++;
      if (++count === m) return table;
    }
  }
}
