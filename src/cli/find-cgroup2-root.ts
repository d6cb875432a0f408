/**
 * @module
 * Where cgroup v2 is mounted, read from /proc/self/mountinfo, so the socket programs attach at the
 * root of the hierarchy by default and see every process on the node.
 */

/** The mount point of the first cgroup2 filesystem in `mountinfo`, or '' when there is none. */
export function findCgroup2Root(mountinfo: string): string {
  for (const line of mountinfo.split('\n')) {
    // Fields after " - " are: fstype, source, super options; the mount point is field 5 before it.
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    if (line.slice(sep + 3).split(' ')[0] !== 'cgroup2') continue;
    const mountPoint = line.slice(0, sep).split(' ')[4];
    if (mountPoint) return mountPoint.replace(/\\040/g, ' ');
  }
  return '';
}
