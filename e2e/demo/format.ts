// Pure text helpers for `make demo`: durations, addresses, one line per request, and the summary
// table. No I/O here, so the layout is unit-tested (format.test.ts) without a cluster.

/** ANSI styling that turns into the identity when colour is off (stdout not a TTY, or NO_COLOR). */
export interface Style {
  bold(s: string): string;
  dim(s: string): string;
  ok(s: string): string;
  fail(s: string): string;
  warn(s: string): string;
}

export function makeStyle(colour: boolean): Style {
  const wrap = (code: string) => (s: string): string => (colour ? `\x1b[${code}m${s}\x1b[0m` : s);
  return { bold: wrap('1'), dim: wrap('2'), ok: wrap('32'), fail: wrap('31'), warn: wrap('33') };
}

/** Colour only for a terminal, and never when NO_COLOR is set (https://no-color.org). */
export function wantColour(isTTY: boolean | undefined, env: Record<string, string | undefined>): boolean {
  return isTTY === true && (env.NO_COLOR ?? '') === '' && env.TERM !== 'dumb';
}

const ANSI = /\x1b\[[0-9;]*m/g;

/** Printed width of `s`: ANSI escapes take no room. */
export function visibleLength(s: string): number {
  return s.replace(ANSI, '').length;
}

/** "0.4 s", "3.1 s", "72 s": one decimal below 10 s is enough to read a step's cost. */
export function seconds(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  return s < 10 ? `${s.toFixed(1)} s` : `${Math.round(s)} s`;
}

/** Elapsed-time prefix for progress lines, fixed width so the messages line up: "[  3.1s]". */
export function clock(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  return `[${s.toFixed(1).padStart(5)}s]`;
}

/** host:port, with IPv6 literals in brackets as in a URL. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** One request of the demo, as sent and as answered. */
export interface Attempt {
  /** Groups the attempts of one case in the summary (e.g. "clusterip-tcp-v4"). */
  caseId: string;
  /** Who sent it: "a-pod2 198.18.1.12", "client 192.0.2.100". */
  client: string;
  /** "ClusterIP", "NodePort (SNAT)", "LoadBalancer", ... */
  serviceType: string;
  /** Destination as dialled. */
  host: string;
  port: number;
  proto: 'tcp' | 'udp';
  /** The backend that answered (absent on failure), e.g. "b-pod1". */
  backend?: string;
  /** The node the answering backend runs on. */
  backendNode?: string;
  /** The source address the backend saw. */
  seen?: string;
  /** Why no answer came, or why the answer was wrong. */
  error?: string;
  /** Wall time of the request, including the client process start. */
  ms: number;
}

/** "198.19.0.10:80/tcp", "[2001:db8:20::a]:53/udp". */
export function destination(a: Pick<Attempt, 'host' | 'port' | 'proto'>): string {
  return `${hostPort(a.host, a.port)}/${a.proto}`;
}

/** The line printed as each request completes. */
export function attemptLine(a: Attempt, style: Style = makeStyle(false)): string {
  const head = `${a.client} -> ${destination(a)}`;
  if (a.backend === undefined) return `${head} -> ${style.fail(`FAILED: ${a.error ?? 'no answer'}`)}`;
  const where = a.backendNode === undefined ? a.backend : `${a.backend} on ${a.backendNode}`;
  const verdict = a.error === undefined ? style.ok('ok') : style.fail(`WRONG: ${a.error}`);
  return `${head} -> ${where}, saw source ${a.seen ?? '?'}  ${verdict} ${style.dim(`(${Math.round(a.ms)} ms)`)}`;
}

export const SUMMARY_HEADERS = ['client', 'service type', 'VIP:port', 'backend', 'source seen by backend', 'result'] as const;

/**
 * One row per case and distinct (backend, source seen, outcome), in first-seen order, with a
 * count; a case's later rows leave client, type and VIP blank so each case reads as one block.
 */
export function summaryRows(attempts: readonly Attempt[]): string[][] {
  const cases = new Map<string, Attempt[]>();
  for (const a of attempts) {
    const list = cases.get(a.caseId) ?? [];
    list.push(a);
    cases.set(a.caseId, list);
  }
  const rows: string[][] = [];
  for (const list of cases.values()) {
    const groups = new Map<string, { a: Attempt; n: number }>();
    for (const a of list) {
      const key = JSON.stringify([a.backend, a.backendNode, a.seen, a.error]);
      const g = groups.get(key);
      if (g === undefined) groups.set(key, { a, n: 1 });
      else g.n++;
    }
    let first = true;
    for (const { a, n } of groups.values()) {
      const backend = a.backend === undefined ? '-' : a.backendNode === undefined ? a.backend : `${a.backend} (${a.backendNode})`;
      const outcome = a.backend === undefined ? `FAIL: ${a.error ?? 'no answer'}` : a.error === undefined ? 'ok' : `WRONG: ${a.error}`;
      rows.push([
        first ? a.client : '', first ? a.serviceType : '', first ? destination(a) : '',
        backend, a.seen ?? '-', `${outcome} x${n}`,
      ]);
      first = false;
    }
  }
  return rows;
}

/** A plain text table: a header, a rule, and left-aligned columns two spaces apart. */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(visibleLength(h), ...rows.map((r) => visibleLength(r[i] ?? ''))));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c + ' '.repeat(widths[i]! - visibleLength(c)))).join('  ').trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Counts for the closing line: how many requests were answered correctly. */
export function tally(attempts: readonly Attempt[]): { ok: number; failed: number } {
  const ok = attempts.filter((a) => a.backend !== undefined && a.error === undefined).length;
  return { ok, failed: attempts.length - ok };
}

/** The agent's warning that DSR is not in effect (a klog W line mentioning DSR), if it logged one. */
export function dsrFallback(log: string): string | undefined {
  const line = log.split('\n').find((l) => /^W\d{4} /.test(l) && /DSR/.test(l));
  if (line === undefined) return undefined;
  // klog text format: W1125 19:08:02.018104 pid file:line] "message" key=value...
  const msg = /\] "((?:[^"\\]|\\.)*)"/.exec(line);
  return msg?.[1] ?? line;
}

/** key="value" and key=value pairs of one klog text line (after the quoted message). */
export function klogFields(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  const afterMsg = line.replace(/^.*?\] "(?:[^"\\]|\\.)*"/, '');
  for (const m of afterMsg.matchAll(/(\w[\w.-]*)=(?:"((?:[^"\\]|\\.)*)"|(\S+))/g)) out[m[1]!] = m[2] ?? m[3] ?? '';
  return out;
}

/**
 * How the agent attached its north-south programs, from its "Attached the north-south datapath"
 * lines: "eth0: tc + XDP native", or "eth0: tc (XDP off)".
 */
export function attachSummary(log: string): string | undefined {
  const lines = log.split('\n').filter((l) => l.includes('"Attached the north-south datapath"'));
  if (lines.length === 0) return undefined;
  const byDevice = new Map<string, string>();
  for (const l of lines) {
    const f = klogFields(l);
    const xdp = f.xdp === undefined || f.xdp === 'off' ? '(XDP off)' : `+ XDP ${f.xdp}`;
    byDevice.set(f.device ?? '?', `${f.device ?? '?'}: tc ${xdp}`);
  }
  return [...byDevice.values()].join(', ');
}

/** One sample of a Prometheus text exposition. */
export interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** The samples of `metric` in a Prometheus text exposition (no HELP/TYPE, no other metrics). */
export function samplesOf(text: string, metric: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`) && !line.startsWith(`${metric} `)) continue;
    const m = /^[^{ ]+(?:\{(.*)\})? (\S+)/.exec(line);
    if (m === null) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[1] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ labels, value: Number(m[2]) });
  }
  return out;
}

// Reasons every packet of an unrelated flow gets; they say nothing about the services.
const BORING_REASONS = new Set(['not_ip', 'not_service', 'unsupp_l4']);

/**
 * "xdp: remote_fwd 9, local_dnat 3; tc_ingress: reply_fwd 9; sock: ..." from the agent's
 * kubeproxy_bpf_packet_reasons_total: where in the datapath the demo's packets were handled.
 * With `baselineText` (an earlier scrape), only what was counted since then: the counters live in
 * pinned maps and so keep counting across agent restarts.
 */
export function datapathReasons(metricsText: string, baselineText = ''): string {
  const key = (s: Sample): string => `${s.labels.hook ?? '?'}/${s.labels.reason ?? '?'}`;
  const before = new Map(samplesOf(baselineText, 'kubeproxy_bpf_packet_reasons_total').map((s) => [key(s), s.value]));
  const byHook = new Map<string, string[]>();
  for (const s of samplesOf(metricsText, 'kubeproxy_bpf_packet_reasons_total')) {
    const n = s.value - (before.get(key(s)) ?? 0);
    if (n <= 0 || BORING_REASONS.has(s.labels.reason ?? '')) continue;
    const hook = s.labels.hook ?? '?';
    const list = byHook.get(hook) ?? [];
    list.push(`${s.labels.reason ?? '?'} ${n}`);
    byHook.set(hook, list);
  }
  return [...byHook].map(([hook, list]) => `${hook}: ${list.join(', ')}`).join('; ') || 'no service packets counted';
}
