#!/usr/bin/env node
/**
 * @module
 * The `kube-proxy` entry point. Parses the command line like kube-proxy, loads and validates the
 * configuration, handles --version/--help, --write-config-to and --cleanup, and otherwise hands the
 * resolved options to runProxy. Exit codes follow kube-proxy: 0 on success, 1 on any usage,
 * configuration or cleanup error. As upstream's component-base prints them, errors before logging
 * starts are one "Error: ..." line, later ones klog lines ("command failed"); never a stack trace.
 *
 * `kube-proxy inspect ...` (our addition) reads a running agent's pinned maps; see inspect.ts.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { cleanupKubeProxyRules } from '../cleanup/cleanup-kube-proxy-rules.ts';
import { commandExec } from '../cleanup/exec.ts';
import { encodeKubeProxyConfiguration } from '../config/encode-kube-proxy-configuration.ts';
import { KUBE_PROXY_BPF_VERSION, KUBERNETES_VERSION } from '../config/version.ts';
import { createLogger, errorChain, type Logger } from '../log/logger.ts';
import type { KubeProxyConfiguration } from '../config/types.ts';
import { findCgroup2Root } from './find-cgroup2-root.ts';
import { flagValues } from './flag-values.ts';
import { ConfigError, loadEffectiveConfig } from './load-effective-config.ts';
import { parseCommandLine } from './parse-command-line.ts';
import type { ProxyOptions } from './proxy-options.ts';
import { resolveNodeName } from './resolve-node-name.ts';

/** The logger the configuration asks for (format, verbosity, vmodule, split streams). */
function loggerFor(config: KubeProxyConfiguration): Logger {
  const json = config.logging.format === 'json';
  const routing = json ? config.logging.options.json : config.logging.options.text;
  return createLogger({
    verbosity: config.logging.verbosity,
    vmodule: config.logging.vmodule ?? [],
    format: json ? 'json' : 'text',
    ...(routing.splitStream ? { out: process.stdout } : {}),
  });
}

/** Set once the configured logger exists, so a late failure is logged in its format. */
let activeLogger: Logger | undefined;

async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  if (argv[0] === 'inspect') {
    const { runInspect } = await import('./inspect.ts');
    return runInspect(argv.slice(1), { out: process.stdout, err: process.stderr });
  }
  // Operators and tooling find the proxy with `pgrep kube-proxy` (spec §9 item 5).
  process.title = 'kube-proxy';
  const parsed = parseCommandLine(argv, env);
  if (parsed.kind === 'exit') {
    (parsed.code === 0 ? process.stdout : process.stderr).write(parsed.output);
    return parsed.code;
  }
  const cmd = parsed.options;
  for (const w of cmd.warnings) process.stderr.write(`${w}\n`);

  let effective;
  try {
    effective = loadEffectiveConfig(cmd, (path) => readFileSync(path, 'utf8'));
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    if (e.phase === 'complete' || e.config === undefined) {
      process.stderr.write(`Error: ${e.message}\n`);
    } else {
      // Upstream has started logging by then; an invalid format falls back to text.
      const fallback = { ...e.config, logging: { ...e.config.logging, format: e.phase === 'logging' ? 'text' : e.config.logging.format } };
      loggerFor(fallback).error('command failed', { err: e.message });
    }
    return 1;
  }
  const { config } = effective;
  const logger = loggerFor(config);
  activeLogger = logger;
  if (effective.strictDecodingError) logger.info('Using lenient decoding as strict decoding failed', { err: effective.strictDecodingError });
  for (const w of effective.warnings) logger.warning(w);

  if (cmd.writeConfigTo !== '') {
    try {
      writeFileSync(cmd.writeConfigTo, encodeKubeProxyConfiguration(config));
    } catch (e) {
      logger.error('Cannot write configuration', { err: e, file: cmd.writeConfigTo });
      return 1;
    }
    logger.info('Wrote configuration', { file: cmd.writeConfigTo });
    return 0;
  }

  if (cmd.cleanup) {
    const result = await cleanupKubeProxyRules(commandExec());
    for (const item of result.removed) logger.info('Removed kube-proxy state', { item });
    for (const err of result.errors) logger.error('Cleanup failed', { err });
    let failed = result.errors.length > 0;
    // Detaches our links and tc filters, then removes every pin (loaded only here: it needs the addon).
    const { cleanupDatapath } = await import('../dataplane/datapath.ts');
    const dp = cleanupDatapath(cmd.bpf.pinPath);
    logger.info('Removed BPF pins', { pinPath: cmd.bpf.pinPath, count: dp.removed.filter((r) => r.startsWith('pin ')).length });
    for (const item of dp.removed.filter((r) => !r.startsWith('pin '))) logger.info('Detached', { item });
    for (const err of dp.errors) logger.error('Cannot remove BPF state', { err, pinPath: cmd.bpf.pinPath });
    if (dp.errors.length > 0) failed = true;
    return failed ? 1 : 0;
  }

  const version = cmd.versionOverride ?? KUBERNETES_VERSION;
  logger.info('Version info', { version, implementation: `kube-proxy-bpf v${KUBE_PROXY_BPF_VERSION}` });
  // A stock kubeadm config names iptables (or ipvs/nftables); we accept it and run BPF regardless.
  logger.info('Using the BPF datapath; the configured proxy mode only selects the sync settings', { mode: config.mode });

  let nodeName: string;
  try {
    nodeName = resolveNodeName(config.hostnameOverride, hostname());
  } catch (e) {
    logger.error('Cannot start', { err: e });
    return 1;
  }
  const bpf = structuredClone(cmd.bpf);
  if (bpf.cgroupPath === '') {
    bpf.cgroupPath = findCgroup2Root(readFileSync('/proc/self/mountinfo', 'utf8'));
    if (bpf.cgroupPath === '' && bpf.socketLB !== 'off') logger.warning('No cgroup v2 mount found; socket load balancing needs one or --bpf-cgroup-path');
  }
  const options: ProxyOptions = {
    config, bpf, nodeName, master: cmd.master, configFile: cmd.configFile, initOnly: cmd.initOnly, logger,
    version, flags: flagValues(cmd.explicit),
  };
  try {
    // Loaded only on the run path, so --help, --version and --write-config-to never load the datapath.
    const { runProxy } = await import('./proxy-server.ts');
    await runProxy(options);
  } catch (err) {
    logger.error('Error running ProxyServer', { err: errorText(err) });
    logger.error('command failed', { err: errorText(err) });
    return 1;
  }
  return 0;
}

/** An error's message with its causes (`a: b: c`), never a stack. */
const errorText = (e: unknown): string => (e instanceof Error ? errorChain(e) : String(e));

// Node's own output in the agent's log would break klog parsing: its warnings become klog
// warnings, and a crash is one klog error line (and exit 1) instead of a JavaScript stack.
process.removeAllListeners('warning');
process.on('warning', (w) => (activeLogger ?? createLogger()).warning('Node.js warning', { name: w.name, warning: w.message }));
const crash = (err: unknown) => {
  (activeLogger ?? createLogger()).error('Unhandled error', { err: errorText(err) });
  process.exit(1);
};
process.on('uncaughtException', crash);
process.on('unhandledRejection', crash);

main(process.argv.slice(2), process.env).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    (activeLogger ?? createLogger()).error('command failed', { err: errorText(e) });
    process.exitCode = 1;
  },
);
