/**
 * @module
 * Builds the effective KubeProxyConfiguration from the command line and, with --config, the file
 * (spec §2.3): the file wins wholesale, except --hostname-override, explicit logging flags (vmodule
 * entries merged), and the action flags. Without --config the explicit flags over the defaults make
 * the config, and the deprecated --healthz-port/--metrics-port still apply. Linux platform
 * defaults follow, then validation; any error is fatal.
 */
import { isIP } from 'node:net';
import { validateBpfOptions } from '../config/bpf-options.ts';
import { ConfigDecodeError, decodeKubeProxyConfiguration } from '../config/decode-kube-proxy-configuration.ts';
import { applyDefaults } from '../config/defaults.ts';
import { formatFieldErrors } from '../config/field-error.ts';
import { applyPlatformDefaults } from '../config/platform-defaults.ts';
import type { KubeProxyConfiguration, PartialKubeProxyConfiguration, VModuleItem } from '../config/types.ts';
import { validateKubeProxyConfiguration, validateLoggingConfiguration } from '../config/validate-kube-proxy-configuration.ts';
import { featureGateLookup } from '../config/feature-gates.ts';
import { FLAGS } from './flags.ts';
import type { CommandLine } from './parse-command-line.ts';

/** A configuration kube-proxy must not start with; `message` is what it prints. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  /**
   * Where upstream fails: `complete` (reading the file, printed as a plain "Error: ..." line
   * before logging starts), `logging` and `validate` (after logging started: a klog line).
   */
  readonly phase: 'complete' | 'logging' | 'validate';
  /** The configuration that failed validation, so the error can be logged in its format. */
  readonly config: KubeProxyConfiguration | undefined;
  constructor(message: string, phase: ConfigError['phase'], config?: KubeProxyConfiguration, options?: ErrorOptions) {
    super(message, options);
    this.phase = phase;
    this.config = config;
  }
}

export type EffectiveConfig = {
  config: KubeProxyConfiguration;
  /** Set when the file needed lenient decoding; log it as upstream does. */
  strictDecodingError?: string;
  /** Flags that had no effect, to be logged as warnings. */
  warnings: string[];
};

// Flags that still act when --config is given (§2.3); everything else with a config field is ignored.
const HONOURED_WITH_CONFIG = new Set(['hostname-override', 'master']);

/**
 * Resolves, defaults and validates the configuration.
 * @param readFile reads the --config file as UTF-8 (injected so tests need no files)
 * @throws ConfigError naming the file or field and the reason
 */
export function loadEffectiveConfig(cmd: CommandLine, readFile: (path: string) => string): EffectiveConfig {
  const warnings: string[] = [];
  let config: KubeProxyConfiguration;
  let strictDecodingError: string | undefined;
  if (cmd.configFile !== '') {
    let text: string;
    try {
      text = readFile(cmd.configFile);
    } catch (e) {
      throw new ConfigError(`failed complete: Cannot read config file ${JSON.stringify(cmd.configFile)}: ${(e as Error).message}`, 'complete', undefined, { cause: e });
    }
    try {
      const decoded = decodeKubeProxyConfiguration(text);
      config = decoded.config;
      strictDecodingError = decoded.strictError;
    } catch (e) {
      if (!(e instanceof ConfigDecodeError)) throw e;
      throw new ConfigError(`failed complete: Cannot load config file ${JSON.stringify(cmd.configFile)}: ${e.message}`, 'complete', undefined, { cause: e });
    }
    const ignored = FLAGS.filter((f) => f.group === 'kube-proxy' && f.to && cmd.explicit.has(f.name) && !HONOURED_WITH_CONFIG.has(f.name));
    for (const f of ignored) warnings.push(`Flag --${f.name} is ignored because --config is set; set it in the config file instead`);
    for (const f of ['healthz-port', 'metrics-port']) if (cmd.explicit.has(f)) warnings.push(`Flag --${f} is ignored because --config is set`);
    if (cmd.hostnameOverride !== undefined) config.hostnameOverride = cmd.hostnameOverride;
    config.logging = mergeLogging(config.logging, cmd.loggingOverrides);
  } else {
    config = configFromFlags(cmd);
  }
  config = applyPlatformDefaults(config);
  const loggingErrs = validateLoggingConfiguration(config, featureGateLookup(config.featureGates));
  if (loggingErrs.length > 0) throw new ConfigError(`initialize logging: ${formatFieldErrors(loggingErrs)}`, 'logging', config);
  const errs = [...validateKubeProxyConfiguration(config), ...validateBpfOptions(cmd.bpf)];
  if (errs.length > 0) throw new ConfigError(`failed validate: ${formatFieldErrors(errs)}`, 'validate', config);
  return strictDecodingError === undefined ? { config, warnings } : { config, strictDecodingError, warnings };
}

function configFromFlags(cmd: CommandLine): KubeProxyConfiguration {
  const partial: PartialKubeProxyConfiguration = structuredClone(cmd.flagConfig);
  // The flags start from a configuration defaulted with bindAddress 0.0.0.0, so --bind-address=::
  // does not move the servers to IPv6 here (only a config file's bindAddress does).
  const deprecatedPorts = [
    ['healthzBindAddress', 'healthz-port', '0.0.0.0'],
    ['metricsBindAddress', 'metrics-port', '127.0.0.1'],
  ] as const;
  // The IPVS flags feed the ipvs section only in ipvs mode, where --ipvs-min-sync-period defaults to 1s.
  if (partial.mode === 'ipvs' && !cmd.explicit.has('ipvs-min-sync-period')) partial.ipvs = { ...partial.ipvs, minSyncPeriod: '1s' };
  for (const [field, portFlag, defaultHost] of deprecatedPorts) {
    if (!cmd.explicit.has(portFlag)) continue;
    const addr = partial[field] ?? defaultHost;
    const port = cmd.explicit.get(portFlag) as number;
    if (port === 0) {
      partial[field] = '';
      continue;
    }
    if (hasPort(addr)) continue; // the address already names its port (upstream's AppendPortIfNeeded)
    partial[field] = `${isIP(addr) === 6 ? `[${addr}]` : addr}:${port}`;
  }
  const config = applyDefaults({ healthzBindAddress: '0.0.0.0:10256', metricsBindAddress: '127.0.0.1:10249', ...partial });
  // An explicitly empty address disables that server; the file path's defaulting would refill it.
  for (const [field, flag] of [['healthzBindAddress', 'healthz-bind-address'], ['metricsBindAddress', 'metrics-bind-address']] as const) {
    if (partial[field] === '' && (cmd.explicit.has(flag) || cmd.explicit.has(flag.replace('bind-address', 'port')))) config[field] = '';
  }
  return config;
}

function hasPort(addr: string): boolean {
  return /^\[.*\]:\d*$/.test(addr) || (isIP(addr) === 0 && /:\d*$/.test(addr) && !addr.includes('::'));
}

function mergeLogging(file: KubeProxyConfiguration['logging'], cli: CommandLine['loggingOverrides']): KubeProxyConfiguration['logging'] {
  const out = structuredClone(file);
  if (cli.format != null) out.format = cli.format;
  if (cli.flushFrequency != null) out.flushFrequency = cli.flushFrequency;
  if (cli.verbosity != null) out.verbosity = cli.verbosity;
  if (cli.options?.text?.splitStream != null) out.options.text.splitStream = cli.options.text.splitStream;
  if (cli.options?.text?.infoBufferSize != null) out.options.text.infoBufferSize = cli.options.text.infoBufferSize;
  if (cli.vmodule != null) {
    // Command-line entries are added to the file's; a repeated pattern takes the command-line level.
    const merged = new Map<string, VModuleItem>((out.vmodule ?? []).map((m) => [m.filePattern, m]));
    for (const m of cli.vmodule as VModuleItem[]) merged.set(m.filePattern, m);
    out.vmodule = [...merged.values()];
  }
  return out;
}
