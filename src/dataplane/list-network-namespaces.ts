/**
 * @module
 * listNetworkNamespaces: one path per distinct network namespace this process can see, for the
 * socket terminator, which must run its iterators in each (a socket iterator only walks the
 * namespace it was created in). Sources: every process's /proc/<pid>/ns/net (pods are processes
 * in their own namespaces; the agent's own comes first) and the bind mounts under /run/netns and
 * /var/run/netns (iproute2's, containerd's and CRI-O's pod namespaces, which may have no process
 * yet). Namespaces are told apart by the device and inode of their nsfs file.
 *
 * In a container without the host's PID namespace /proc shows only the container's processes:
 * the DaemonSet then needs the host's /run/netns mounted (or hostPID) to reach pods; see README.
 */
import { readdirSync, statSync } from 'node:fs';

export type NamespaceSource = {
  /** @default '/proc' */
  proc?: string;
  /** @default ['/run/netns', '/var/run/netns'] */
  mountDirs?: string[];
};

function entries(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

export function listNetworkNamespaces(source: NamespaceSource = {}): string[] {
  const proc = source.proc ?? '/proc';
  const candidates = [`${proc}/self/ns/net`];
  for (const name of entries(proc)) if (/^\d+$/.test(name)) candidates.push(`${proc}/${name}/ns/net`);
  for (const dir of source.mountDirs ?? ['/run/netns', '/var/run/netns']) for (const name of entries(dir)) candidates.push(`${dir}/${name}`);
  const seen = new Set<string>();
  const out: string[] = [];
  let nsfs: bigint | undefined;
  for (const path of candidates) {
    let id: string;
    try {
      // stat follows the magic link to the nsfs inode: one (dev, ino) per namespace, all on the one
      // nsfs device (the first candidate's). A process that exited, or a file under a mount
      // directory that is no namespace, is skipped.
      const st = statSync(path, { bigint: true });
      nsfs ??= st.dev;
      if (st.dev !== nsfs) continue;
      id = `${st.dev}:${st.ino}`;
    } catch {
      continue;
    }
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(path);
  }
  return out;
}
