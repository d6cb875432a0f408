import { spawn, type ChildProcess } from 'node:child_process';
// trafgen packet configs and invocation. One 64-byte-on-the-wire UDP/IPv4 frame (60 bytes + FCS)
// with the source port cycling over `flows` values so conntrack sees that many flows.
export interface UdpFrame {
  srcMac: string;
  dstMac: string;
  srcIp: string;
  dstIp: string;
  dstPort: number;
  /** Number of distinct source ports (flows); default 256. */
  flows?: number;
  /** Bytes of UDP payload; 18 makes a 60-byte frame (64 with FCS). */
  payload?: number;
}

export const BASE_SPORT = 10_000;

/** trafgen config text for `f`; UDP checksum 0 (valid for IPv4) so dynamic ports need no recompute. */
export function trafgenConfig(f: UdpFrame): string {
  const flows = f.flows ?? 256;
  const payload = f.payload ?? 18;
  const sp = flows > 1 ? `dinc(${BASE_SPORT}, ${BASE_SPORT + flows - 1})` : String(BASE_SPORT);
  return [
    '{',
    `  eth(da=${f.dstMac}, sa=${f.srcMac}),`,
    `  ipv4(sa=${f.srcIp}, da=${f.dstIp}, ttl=64, df),`,
    `  udp(sp=${sp}, dp=${f.dstPort}, csum=0),`,
    `  fill(0x41, ${payload})`,
    '}',
    '',
  ].join('\n');
}

/**
 * argv for one trafgen process on CPU `cpu` at `pps` (0 = as fast as it can), touching nothing
 * machine-wide: --no-sock-mem leaves the socket memory sysctls alone
 * (this trafgen's short -A is broken), --notouch-irq leaves IRQ affinities alone.
 */
export function trafgenArgv(dev: string, confPath: string, cpu: number, pps: number): string[] {
  return [
    'taskset', '-c', String(cpu), 'trafgen', '--dev', dev, '--conf', confPath, '--cpus', '1', '--no-sock-mem', '--notouch-irq', '--no-cpu-stats',
    ...(pps > 0 ? ['--rate', `${pps}pps`] : []),
  ];
}

/**
 * A running trafgen. trafgen forks one worker per CPU and only the whole process group stops it
 * cleanly (what ^C does), so it runs in its own group and is stopped with SIGINT to the group,
 * then SIGKILL; a timer kills it regardless after `maxS` seconds.
 */
export class Generator {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  output = '';
  #done = false;
  #timer: NodeJS.Timeout;

  constructor(argv: readonly string[], maxS: number) {
    const [cmd, ...args] = argv;
    this.child = spawn(cmd!, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const take = (d: Buffer): void => { this.output = (this.output + d.toString()).slice(-8192); };
    this.child.stdout!.on('data', take);
    this.child.stderr!.on('data', take);
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => { this.#done = true; resolve(code); }));
    this.#timer = setTimeout(() => this.#signal('SIGKILL'), maxS * 1000);
  }

  get running(): boolean {
    return !this.#done;
  }

  #signal(sig: NodeJS.Signals): void {
    try {
      process.kill(-this.child.pid!, sig);
    } catch {
      // group already gone
    }
  }

  async stop(graceMs = 2_000): Promise<void> {
    this.#signal('SIGINT');
    const t = setTimeout(() => this.#signal('SIGKILL'), graceMs);
    await this.exited;
    // the group may still hold a worker after the leader exits
    await new Promise((r) => setTimeout(r, 100));
    this.#signal('SIGKILL');
    clearTimeout(t);
    clearTimeout(this.#timer);
  }
}
