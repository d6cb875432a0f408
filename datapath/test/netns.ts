// Throwaway network namespaces for datapath tests. Every name starts with `kpb-ns-<pid>-` so a
// test never touches anything it did not create, and remove() is safe to call on failure paths.
import { execFileSync } from 'node:child_process';

/** Run a command, throwing an error that names the command and its stderr. */
export function sh(argv: readonly string[], opts: { input?: string; allowFail?: boolean } = {}): string {
  try {
    return execFileSync(argv[0], argv.slice(1), { encoding: 'utf8', input: opts.input, stdio: ['pipe', 'pipe', 'pipe'], timeout: 30_000 });
  } catch (err) {
    if (opts.allowFail) return '';
    const e = err as { stderr?: string; status?: number };
    throw new Error(`Command "${argv.join(' ')}" failed (status ${e.status}): ${String(e.stderr ?? err).trim()}`);
  }
}

export class Netns {
  readonly name: string;
  #removed = false;

  private constructor(name: string) {
    this.name = name;
  }

  /** Create `kpb-ns-<pid>-<suffix>` with lo up. */
  static create(suffix: string): Netns {
    const name = `kpb-ns-${process.pid}-${suffix}`;
    if (name.length > 64) throw new RangeError(`Namespace name "${name}" is too long`);
    sh(['ip', 'netns', 'add', name]);
    const ns = new Netns(name);
    ns.ip('link', 'set', 'lo', 'up');
    return ns;
  }

  /** `ip -n <ns> ...` */
  ip(...args: string[]): string {
    return sh(['ip', '-n', this.name, ...args]);
  }

  /** Run argv inside the namespace. */
  exec(argv: readonly string[], opts: { input?: string; allowFail?: boolean } = {}): string {
    return sh(['ip', 'netns', 'exec', this.name, ...argv], opts);
  }

  sysctl(key: string, value: string): void {
    this.exec(['sysctl', '-qw', `${key}=${value}`]);
  }

  ifindex(dev: string): number {
    const out = JSON.parse(this.ip('-j', 'link', 'show', 'dev', dev)) as Array<{ ifindex: number }>;
    return out[0].ifindex;
  }

  /** Remove the namespace (and with it every device inside). Idempotent. */
  remove(): void {
    if (this.#removed) return;
    this.#removed = true;
    sh(['ip', 'netns', 'del', this.name], { allowFail: true });
  }
}

/** True when this process runs inside the named namespace (ip netns identify). */
export function inNetns(name: string): boolean {
  return sh(['ip', 'netns', 'identify', String(process.pid)], { allowFail: true }).trim().split(/\s+/).includes(name);
}
