/**
 * @module
 * Removes everything we pinned under our bpffs directory: maps, programs and links (unpinning a
 * link we hold no other reference to detaches it), then the directory itself.
 */
import { readdirSync, rmdirSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';

/** Unpins every object under `pinPath` (depth first) and removes the directories; returns the paths removed. */
export function removeBpfPins(pinPath: string): string[] {
  const removed: string[] = [];
  let st;
  try {
    st = statSync(pinPath);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return removed; // nothing pinned yet
    throw e;
  }
  if (!st.isDirectory()) throw new Error(`Cannot remove BPF pins under ${JSON.stringify(pinPath)}: it is not a directory`);
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else {
        unlinkSync(path);
        removed.push(path);
      }
    }
    rmdirSync(dir);
    removed.push(dir);
  };
  walk(pinPath);
  return removed;
}
