/**
 * @module
 * What the entry point hands to runProxy (src/cli/proxy-server.ts): everything resolved and
 * validated, so the proxy never re-reads flags or the file.
 */
import type { BpfOptions } from '../config/bpf-options.ts';
import type { KubeProxyConfiguration } from '../config/types.ts';
import type { Logger } from '../log/logger.ts';

export type ProxyOptions = {
  /** The effective configuration: defaults and Linux platform defaults applied, validated. */
  config: KubeProxyConfiguration;
  /** --bpf-* options; `cgroupPath` is resolved to the cgroup2 mount root when not given. */
  bpf: BpfOptions;
  /** Lowercased, trimmed node name (override or OS hostname). */
  nodeName: string;
  /** --master: overrides the kubeconfig's server even with --config. */
  master: string;
  /** The --config path, or ''. runProxy exits with an error when this file changes (spec §2.3.5). */
  configFile: string;
  /** --init-only: do the privileged set-up (sysctls, conntrack) and return. */
  initOnly: boolean;
  logger: Logger;
  /** The version reported (--version=vX.Y.Z overrides ours). @default KUBERNETES_VERSION */
  version?: string;
  /** Every flag and its value, for /flagz. */
  flags?: [string, string][];
};
