/**
 * @module
 * A klog-compatible text logger. Lines look like kube-proxy's, so existing log tooling and
 * people's habits keep working:
 *
 *   I1125 19:02:03.123456   12345 proxy-server.ts:42] "Starting kube-proxy" version="v1.37.2"
 *
 * Header: severity letter (I/W/E/F), MMDD, hh:mm:ss.uuuuuu (local time, as klog), the pid padded to
 * 7 columns, the caller's file:line, then `]`. The message is quoted and followed by key="value"
 * pairs, as klog's structured calls (InfoS/ErrorS) print them.
 *
 * With `format: 'json'` (`--logging-format=json`) each line is one JSON object in
 * component-base's JSON format instead: `{"ts":<epoch ms>,"caller":"file:line","msg":"...","v":0,...}`;
 * error lines carry `err` and no `v`.
 */

/** Where lines go; `write` receives one complete line including its newline. */
export type LogSink = { write(line: string): unknown };

export type LoggerOptions = {
  /** -v: info lines with a level above this are dropped. @default 0 */
  verbosity?: number;
  /** --vmodule entries; a matching file pattern replaces `verbosity` for calls from that file. */
  vmodule?: { filePattern: string; verbosity: number }[];
  /** Sink for every line, or for warnings and errors when `out` is given. @default process.stderr */
  err?: LogSink;
  /** --log-text-split-stream: info lines go here instead of `err`. */
  out?: LogSink;
  /** Adds the caller's file:line to the header (costs a stack capture per line). @default true */
  withSource?: boolean;
  /** Injected for tests; the default clock also supplies microseconds. @default () => new Date() */
  now?: () => Date;
  /** @default process.pid */
  pid?: number;
  /** Called after a fatal line. @default process.exit */
  exit?: (code: number) => never;
  /** `text` (klog's header and key="value" pairs) or `json` (component-base's JSON lines). @default 'text' */
  format?: 'text' | 'json';
};

export type KeyValues = Record<string, unknown>;

/** The result of `logger.v(n)`: logs only when n is enabled, like klog.V(n). */
export type Verbose = {
  readonly enabled: boolean;
  info(msg: string, kv?: KeyValues): void;
};

export type Logger = {
  v(level: number): Verbose;
  info(msg: string, kv?: KeyValues): void;
  warning(msg: string, kv?: KeyValues): void;
  /** `err` is printed first as err="..." like klog.ErrorS(err, msg, ...). */
  error(msg: string, kv?: KeyValues & { err?: unknown }): void;
  /** Logs at F and exits with 255, as klog.Fatal does. */
  fatal(msg: string, kv?: KeyValues): never;
  /** A logger that adds `kv` to every line (klog's WithValues). */
  with(kv: KeyValues): Logger;
  setVerbosity(level: number): void;
  getVerbosity(): number;
};

type State = Required<Omit<LoggerOptions, 'out' | 'vmodule' | 'format'>> & {
  json: boolean;
  out: LogSink | undefined;
  vmodule: { re: RegExp; verbosity: number }[];
};

/**
 * Creates a klog-style logger.
 * @example
 * const log = createLogger({ verbosity: 2 });
 * log.v(2).info('Syncing services', { count: 3 });
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const state: State = {
    verbosity: options.verbosity ?? 0,
    vmodule: (options.vmodule ?? []).map((m) => ({ re: globToRegExp(m.filePattern), verbosity: m.verbosity })),
    err: options.err ?? process.stderr,
    out: options.out,
    withSource: options.withSource ?? true,
    now: options.now ?? preciseNow,
    pid: options.pid ?? process.pid,
    exit: options.exit ?? ((code: number) => process.exit(code)),
    json: options.format === 'json',
  };
  return makeLogger(state, {});
}

function makeLogger(state: State, bound: KeyValues): Logger {
  const emit = (sev: 'I' | 'W' | 'E' | 'F', msg: string, kv: KeyValues | undefined, source: string, level = 0) => {
    const line = state.json
      ? formatJsonLine(sev, state.now(), source, msg, { ...bound, ...kv }, level) + '\n'
      : formatHeader(sev, state.now(), state.pid, source) + formatMessage(msg, { ...bound, ...kv }) + '\n';
    const sink = sev === 'I' && state.out ? state.out : state.err;
    sink.write(line);
  };
  const src = () => (state.withSource ? callerLocation() : '');
  const logger: Logger = {
    v(level) {
      // vmodule needs the caller's file even when the header omits it.
      const file = state.vmodule.length > 0 ? callerLocation() : '';
      const enabled = level <= effectiveVerbosity(state, file);
      return {
        enabled,
        info(msg, kv) {
          if (enabled) emit('I', msg, kv, state.withSource ? file || callerLocation() : '', level);
        },
      };
    },
    info: (msg, kv) => emit('I', msg, kv, src()),
    warning: (msg, kv) => emit('W', msg, kv, src()),
    error: (msg, kv) => {
      // klog.ErrorS puts err= right after the message.
      const { err, ...rest } = kv ?? {};
      emit('E', msg, err === undefined ? rest : { err, ...rest }, src());
    },
    fatal: (msg, kv) => {
      emit('F', msg, kv, src());
      return state.exit(255);
    },
    with: (kv) => makeLogger(state, { ...bound, ...kv }),
    setVerbosity(level) {
      state.verbosity = level;
    },
    getVerbosity: () => state.verbosity,
  };
  return logger;
}

function effectiveVerbosity(state: State, location: string): number {
  if (state.vmodule.length === 0 || location === '') return state.verbosity;
  // klog matches vmodule patterns against the file name without its extension.
  const base = location.replace(/:\d+$/, '').replace(/\.[^.]*$/, '');
  for (const m of state.vmodule) if (m.re.test(base)) return m.verbosity;
  return state.verbosity;
}

function globToRegExp(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

const pad = (n: number, width: number, fill = '0') => String(n).padStart(width, fill);

/** Dates carry milliseconds; klog prints microseconds, which the monotonic clock can supply. */
type PreciseDate = Date & { micros?: number };

function preciseNow(): Date {
  const t = performance.timeOrigin + performance.now();
  const d: PreciseDate = new Date(Math.floor(t));
  d.micros = d.getMilliseconds() * 1000 + Math.floor((t % 1) * 1000);
  return d;
}

/** The klog header for one line, e.g. `I1125 19:02:03.123456   12345 file.ts:42] `. */
export function formatHeader(sev: string, d: Date, pid: number, source: string): string {
  const date = pad(d.getMonth() + 1, 2) + pad(d.getDate(), 2);
  const time = `${pad(d.getHours(), 2)}:${pad(d.getMinutes(), 2)}:${pad(d.getSeconds(), 2)}.${pad((d as PreciseDate).micros ?? d.getMilliseconds() * 1000, 6)}`;
  return `${sev}${date} ${time} ${pad(pid, 7, ' ')} ${source}${source ? '' : '???:1'}] `;
}

/** The message and key/value part of a line, in klog's text format. */
export function formatMessage(msg: string, kv: KeyValues): string {
  let s = JSON.stringify(msg);
  for (const [k, v] of Object.entries(kv)) s += ` ${k}=${formatValue(v)}`;
  return s;
}

/**
 * An error's message followed by its causes (`a: b: c`), like a Go error wrapped with %w, so a
 * wrapper such as "The full sync failed" still says why. A cause already quoted in the message
 * is not repeated.
 */
export function errorChain(err: Error): string {
  let text = err.message;
  const seen = new Set<unknown>([err]);
  for (let c = err.cause; c !== undefined && c !== null && !seen.has(c) && seen.size < 8; c = c instanceof Error ? c.cause : undefined) {
    seen.add(c);
    const m = c instanceof Error ? c.message : String(c);
    if (m !== '' && !text.includes(m)) text += `: ${m}`;
  }
  return text;
}

function formatValue(v: unknown): string {
  if (v instanceof Error) return formatValue(errorChain(v));
  if (typeof v === 'string') {
    // klog prints multi-line strings as an indented block so each line stays readable.
    if (v.includes('\n')) return `<\n${v.replace(/\n$/, '').split('\n').map((l) => `\t${l}`).join('\n')}\n >`;
    return JSON.stringify(v);
  }
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (v === null || v === undefined) return '<nil>';
  if (Array.isArray(v)) return `[${v.map(formatValue).join(',')}]`;
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

/**
 * One line of component-base's JSON format (zap's encoder as kube-proxy configures it): `ts` in
 * epoch milliseconds, `caller`, `msg`, then `v` for info lines or `err` first for errors, then the
 * key/value pairs. Errors are encoded as their message, as zapr does.
 */
export function formatJsonLine(sev: string, d: Date, source: string, msg: string, kv: KeyValues, level = 0): string {
  const ts = d.getTime() + (((d as PreciseDate).micros ?? d.getMilliseconds() * 1000) % 1000) / 1000;
  const o: Record<string, unknown> = { ts, caller: source || '???:1', msg };
  if (sev === 'I' || sev === 'W') o.v = level;
  for (const [k, v] of Object.entries(kv)) {
    if (k in o) continue;
    o[k] = jsonValue(v);
  }
  try {
    return JSON.stringify(o);
  } catch {
    return JSON.stringify({ ts, caller: o.caller, msg, v: level, error: 'cannot encode the key/value pairs' });
  }
}

function jsonValue(v: unknown): unknown {
  if (v instanceof Error) return errorChain(v);
  if (typeof v === 'bigint') return v.toString();
  if (v === undefined) return null;
  if (Array.isArray(v)) return v.map(jsonValue);
  return v;
}

/** file:line of the first stack frame outside this module. */
function callerLocation(): string {
  const stack = new Error().stack?.split('\n') ?? [];
  for (const frame of stack.slice(1)) {
    const m = /\(?([^\s()]+):(\d+):\d+\)?$/.exec(frame.trim());
    if (!m) continue;
    const file = m[1].split('/').pop() ?? m[1];
    if (file === 'logger.ts') continue;
    return `${file}:${m[2]}`;
  }
  return '';
}
