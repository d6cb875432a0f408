/**
 * @module
 * The command line, parsed the way kube-proxy's pflag set parses it: `--flag=value`, `--flag value`,
 * bare booleans, `-v 2`/`-v=2`/`--v=2`, repeated list flags appended, unknown flags and positional
 * arguments rejected with exit code 1. yargs does the value assignment; a first pass over the tokens
 * gives pflag's error messages and keeps a bare boolean from swallowing the next argument.
 * Pure: no files, no process state. Reading --config happens in load-effective-config.ts.
 */
import yargs from 'yargs';
import { BPF_FLAG, defaultBpfOptions } from '../config/bpf-options.ts';
import type { BpfOptions } from '../config/bpf-options.ts';
import type { PartialKubeProxyConfiguration } from '../config/types.ts';
import { KUBE_PROXY_BPF_VERSION, KUBERNETES_VERSION } from '../config/version.ts';
import { convertFlagValue, parseBool } from './convert-flag-value.ts';
import type { FlagValue } from './convert-flag-value.ts';
import { FLAGS, REMOVED_FLAGS } from './flags.ts';
import type { FlagSpec } from './flags.ts';
import { formatHelp } from './format-help.ts';

/** What the command line asks for, before any file is read. */
export type CommandLine = {
  /** Flags given on the command line, by name, converted to their types. */
  explicit: Map<string, FlagValue>;
  configFile: string;
  writeConfigTo: string;
  cleanup: boolean;
  initOnly: boolean;
  /** --master; applied to the client connection even with --config. */
  master: string;
  /** --hostname-override, trimmed and lowercased, when given and not empty. */
  hostnameOverride?: string;
  /** --version=vX.Y.Z: the version to report instead of ours (same major.minor.patch). */
  versionOverride?: string;
  /** The KubeProxyConfiguration fields set by explicit flags (used when there is no --config). */
  flagConfig: PartialKubeProxyConfiguration;
  /** Explicit logging flags, which override the file's `logging` even with --config. */
  loggingOverrides: NonNullable<PartialKubeProxyConfiguration['logging']>;
  bpf: BpfOptions;
  /** Messages pflag would print to stderr (deprecations, ignored legacy flags). */
  warnings: string[];
};

export type ParseResult = { kind: 'run'; options: CommandLine } | { kind: 'exit'; code: number; output: string };

/** pflag's WordSepNormalizeFunc, which kube-proxy's flag set uses: `_` and `-` are the same. */
export const normalizeFlagName = (name: string): string => name.replace(/_/g, '-');
const BY_NAME = new Map<string, FlagSpec>(FLAGS.map((f) => [normalizeFlagName(f.name), f]));
const BY_SHORT = new Map<string, FlagSpec>(FLAGS.filter((f) => f.short).map((f) => [f.short as string, f]));

/**
 * Parses kube-proxy's command line.
 * @param argv the arguments after the program name
 * @param _env the environment; kube-proxy takes no settings from it (the DaemonSet's $(NODE_NAME)
 *   is expanded by the kubelet), so it is accepted only to keep the entry's call uniform
 */
export function parseCommandLine(argv: string[], _env: Record<string, string | undefined> = {}): ParseResult {
  const usageError = (msg: string): ParseResult => ({ kind: 'exit', code: 1, output: `Error: ${msg}\n${formatHelp(FLAGS)}` });

  const scanned = scan(argv);
  if ('error' in scanned) return usageError(scanned.error);

  const parsed = yargs(scanned.tokens)
    .version(false)
    .help(false)
    .exitProcess(false)
    .parserConfiguration({
      'camel-case-expansion': false,
      'dot-notation': false,
      'duplicate-arguments-array': true,
      'boolean-negation': false,
      'parse-numbers': false,
      'parse-positional-numbers': false,
      'greedy-arrays': false,
      'short-option-groups': false,
    })
    .options(Object.fromEntries(FLAGS.map((f) => [f.name, { type: f.type === 'bool' ? ('boolean' as const) : ('string' as const) }])))
    .parseSync() as Record<string, unknown>;

  const explicit = new Map<string, FlagValue>();
  const warnings: string[] = [];
  for (const name of scanned.seen) {
    const flag = BY_NAME.get(normalizeFlagName(name)) as FlagSpec;
    const raw = parsed[name];
    const occurrences = (Array.isArray(raw) ? raw : [raw]).map((v) => String(v));
    try {
      explicit.set(name, convertFlagValue(flag, occurrences));
    } catch (e) {
      return usageError((e as Error).message);
    }
    if (flag.deprecated) warnings.push(`Flag --${name} has been deprecated, ${flag.deprecated}`);
    if (flag.group === 'legacy') warnings.push(`Flag --${name} has no effect: kube-proxy-bpf always logs to stderr in klog's text format`);
  }

  if (explicit.get('help') === true) return { kind: 'exit', code: 0, output: formatHelp(FLAGS) };
  const version = explicit.get('version') as string | undefined;
  let versionOverride: string | undefined;
  if (version !== undefined && version !== 'false') {
    if (version === 'raw') return { kind: 'exit', code: 0, output: rawVersion() };
    if (version === '' || version === 'true') return { kind: 'exit', code: 0, output: `Kubernetes ${KUBERNETES_VERSION} (kube-proxy-bpf v${KUBE_PROXY_BPF_VERSION})\n` };
    if (version.startsWith('v')) {
      const why = dynamicVersionError(version);
      if (why !== undefined) return usageError(`invalid argument ${JSON.stringify(version)} for "--version" flag: ${why}`);
      versionOverride = version;
    } else if (parseBool(version) === undefined) {
      return usageError(`invalid argument ${JSON.stringify(version)} for "--version" flag: strconv.ParseBool: parsing ${JSON.stringify(version)}: invalid syntax`);
    }
  }

  // Upstream applies the override only when it is non-empty after trimming.
  let hostnameOverride: string | undefined;
  if (explicit.has('hostname-override')) {
    hostnameOverride = (explicit.get('hostname-override') as string).trim().toLowerCase();
    if (hostnameOverride === '') {
      explicit.delete('hostname-override');
      hostnameOverride = undefined;
    } else {
      explicit.set('hostname-override', hostnameOverride);
    }
  }

  const flagConfig: Record<string, unknown> = {};
  const loggingOverrides: Record<string, unknown> = {};
  for (const [name, value] of explicit) {
    const flag = BY_NAME.get(normalizeFlagName(name)) as FlagSpec;
    for (const path of flag.to ?? []) {
      setPath(flagConfig, path, value);
      if (flag.group === 'logging') setPath(loggingOverrides, path.replace(/^logging\./, ''), value);
    }
  }

  const bpf = defaultBpfOptions();
  const take = <K extends keyof BpfOptions>(key: K, flag: string) => {
    if (explicit.has(flag)) bpf[key] = explicit.get(flag) as BpfOptions[K];
  };
  for (const key of ['lbMode', 'algorithm', 'maglevTableSize', 'xdp', 'socketLB', 'devices', 'pinPath', 'cgroupPath', 'removeStaleKubeProxyRules', 'nodePortSnatPortRange'] as const) {
    take(key, BPF_FLAG[key]);
  }
  for (const [key, flag] of Object.entries(BPF_FLAG.mapSizes)) {
    if (!explicit.has(flag)) continue;
    bpf.mapSizes[key as keyof BpfOptions['mapSizes']] = explicit.get(flag) as number;
    (bpf.mapSizesSet ??= []).push(key as keyof BpfOptions['mapSizes']);
  }

  const str = (name: string) => (explicit.get(name) as string | undefined) ?? '';
  const bool = (name: string) => explicit.get(name) === true;
  return {
    kind: 'run',
    options: {
      explicit,
      configFile: str('config'),
      writeConfigTo: str('write-config-to'),
      cleanup: bool('cleanup'),
      initOnly: bool('init-only'),
      master: str('master'),
      ...(hostnameOverride !== undefined ? { hostnameOverride } : {}),
      ...(versionOverride !== undefined ? { versionOverride } : {}),
      flagConfig: flagConfig as PartialKubeProxyConfiguration,
      loggingOverrides: loggingOverrides as CommandLine['loggingOverrides'],
      bpf,
      warnings,
    },
  };
}

type Scan = { tokens: string[]; seen: Set<string> } | { error: string };

/** Checks every token as pflag would and normalises booleans so yargs cannot misread them. */
function scan(argv: string[]): Scan {
  const tokens: string[] = [];
  const seen = new Set<string>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i];
    if (tok === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!tok.startsWith('-') || tok === '-') {
      positional.push(tok);
      continue;
    }
    let flag: FlagSpec | undefined;
    let inline: string | undefined;
    if (tok.startsWith('--')) {
      const eq = tok.indexOf('=');
      const name = eq < 0 ? tok.slice(2) : tok.slice(2, eq);
      inline = eq < 0 ? undefined : tok.slice(eq + 1);
      flag = BY_NAME.get(normalizeFlagName(name));
      if (!flag) {
        const why = REMOVED_FLAGS[normalizeFlagName(name)];
        return { error: `unknown flag: --${name}${why ? ` (removed from kube-proxy: ${why})` : ''}` };
      }
    } else {
      // Shorthand: -v, -v=2, -v2, -h.
      flag = BY_SHORT.get(tok[1]);
      if (!flag) return { error: `unknown shorthand flag: '${tok[1]}' in ${tok}` };
      const rest = tok.slice(2);
      inline = rest === '' ? undefined : rest.startsWith('=') ? rest.slice(1) : rest;
    }
    seen.add(flag.name);
    if (flag.type === 'bool') {
      // A bare boolean never takes the next argument; its inline value must parse as a bool.
      const b = inline === undefined ? true : parseBool(inline);
      if (b === undefined) {
        return { error: `invalid argument ${JSON.stringify(inline)} for "--${flag.name}" flag: strconv.ParseBool: parsing ${JSON.stringify(inline)}: invalid syntax` };
      }
      tokens.push(`--${flag.name}=${b}`);
      continue;
    }
    if (inline === undefined && flag.noOptDefault !== undefined) inline = flag.noOptDefault;
    if (inline === undefined) {
      if (i + 1 >= argv.length) return { error: `flag needs an argument: --${flag.name}` };
      inline = argv[++i];
    }
    // Always hand yargs the `--name=value` form so values starting with "-" stay values.
    tokens.push(`--${flag.name}=${inline}`);
  }
  if (positional.some((p) => p !== '')) return { error: `"kube-proxy" does not take any arguments, got ${JSON.stringify(positional)}` };
  return { tokens, seen };
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = target;
  for (const p of parts.slice(0, -1)) {
    node[p] ??= {};
    node = node[p] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]] = value;
}

/**
 * Why `v` cannot be the reported version, or undefined: like component-base's
 * SetDynamicVersion, it must be a semantic version with our major.minor.patch.
 */
function dynamicVersionError(v: string): string | undefined {
  if (v === KUBERNETES_VERSION) return undefined;
  const m = /^v(\d+)\.(\d+)\.(\d+)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/.exec(v);
  if (!m) return `could not parse ${JSON.stringify(v)} as version`;
  const [maj, min, patch] = KUBERNETES_VERSION.slice(1).split('.');
  if (m[1] !== maj || m[2] !== min || m[3] !== patch) return `version ${JSON.stringify(v)} must match major/minor/patch of default version ${JSON.stringify(KUBERNETES_VERSION)}`;
  return undefined;
}

function rawVersion(): string {
  const [major, minor] = KUBERNETES_VERSION.slice(1).split('.');
  return `version.Info{Major:"${major}", Minor:"${minor}", GitVersion:"${KUBERNETES_VERSION}", Implementation:"kube-proxy-bpf", ImplementationVersion:"v${KUBE_PROXY_BPF_VERSION}", NodeVersion:"${process.version}", Platform:"${process.platform}/${process.arch}"}\n`;
}
