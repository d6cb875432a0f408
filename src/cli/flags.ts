/**
 * @module
 * Every command-line flag we accept: kube-proxy's own (spec §1, same names, types and defaults),
 * the legacy klog flags kube-proxy still carries, and our `--bpf-*` flags. `to` names the
 * KubeProxyConfiguration fields a flag sets when no --config file is given (§1.5: the iptables
 * sync flags feed the nftables section too).
 */

export type FlagType =
  | 'string'
  | 'bool'
  | 'int32'
  | 'float'
  | 'duration'
  | 'strings'
  | 'mapStringBool'
  | 'level'
  | 'vmodule'
  | 'quantity'
  | 'portRange'
  /** An IP address as ParseIPSloppy reads it; the text is kept as given. */
  | 'ip';

export type FlagGroup = 'kube-proxy' | 'logging' | 'bpf' | 'legacy';

export type FlagSpec = {
  name: string;
  type: FlagType;
  /** The default as help shows it. */
  default: string;
  usage: string;
  group: FlagGroup;
  /** KubeProxyConfiguration paths (dot-separated) this flag writes without --config. */
  to?: string[];
  /** A deprecation notice; pflag prints "Flag --x has been deprecated, <notice>" and hides the flag. */
  deprecated?: string;
  hidden?: boolean;
  short?: string;
  /** The type name help shows, when it differs from the parsing type (pflag's Value.Type()). */
  typeName?: string;
  /** pflag's NoOptDefVal: the value of a bare `--flag`, which then never takes the next argument. */
  noOptDefault?: string;
};

const ignoredWithConfig = ' This parameter is ignored if a config file is specified by --config.';

const kubeProxy: FlagSpec[] = [
  { name: 'config', type: 'string', default: '', usage: 'The path to the configuration file.' },
  { name: 'write-config-to', type: 'string', default: '', usage: 'If set, write the default configuration values to this file and exit.' },
  { name: 'cleanup', type: 'bool', default: 'false', usage: 'If true cleanup iptables and nftables rules left by kube-proxy, and our pinned BPF objects, and exit.' },
  { name: 'init-only', type: 'bool', default: 'false', usage: 'If true, perform any initialization steps that must run with full root privileges, and then exit. After doing this, you can run kube-proxy again with only the CAP_NET_ADMIN capability.' },
  { name: 'feature-gates', type: 'mapStringBool', default: '', to: ['featureGates'], usage: `A set of key=value pairs that describe feature gates for alpha/experimental features.${ignoredWithConfig}` },
  { name: 'version', type: 'string', typeName: 'version', default: 'false', noOptDefault: 'true', usage: '--version, --version=raw prints version information and quits; --version=vX.Y.Z... sets the reported version' },
  { name: 'help', short: 'h', type: 'bool', default: 'false', usage: 'help for kube-proxy' },
  { name: 'kubeconfig', type: 'string', default: '', to: ['clientConnection.kubeconfig'], usage: `Path to kubeconfig file with authorization information (the master location can be overridden by the master flag).${ignoredWithConfig}` },
  { name: 'master', type: 'string', default: '', usage: 'The address of the Kubernetes API server (overrides any value in kubeconfig).' },
  { name: 'kube-api-content-type', type: 'string', default: 'application/vnd.kubernetes.protobuf', to: ['clientConnection.contentType'], usage: `Content type of requests sent to apiserver.${ignoredWithConfig}` },
  { name: 'kube-api-qps', type: 'float', default: '5', to: ['clientConnection.qps'], usage: `QPS to use while talking with kubernetes apiserver.${ignoredWithConfig}` },
  { name: 'kube-api-burst', type: 'int32', default: '10', to: ['clientConnection.burst'], usage: `Burst to use while talking with kubernetes apiserver.${ignoredWithConfig}` },
  { name: 'config-sync-period', type: 'duration', default: '15m0s', to: ['configSyncPeriod'], usage: `How often configuration from the apiserver is refreshed. Must be greater than 0.${ignoredWithConfig}` },
  { name: 'hostname-override', type: 'string', default: '', to: ['hostnameOverride'], usage: 'If non-empty, will be used as the name of the Node that kube-proxy is running on. If unset, the node name is assumed to be the same as the node\'s hostname.' },
  { name: 'bind-address', type: 'ip', default: '0.0.0.0', to: ['bindAddress'], usage: `Overrides kube-proxy's idea of what its node's primary IP is. Note that the name is a historical artifact, and kube-proxy does not actually bind any sockets to this IP.${ignoredWithConfig}` },
  { name: 'healthz-bind-address', type: 'string', typeName: 'ipport', default: '0.0.0.0:10256', to: ['healthzBindAddress'], usage: `The IP address and port for the health check server to serve on, defaulting to "0.0.0.0:10256". This can be set to "" to disable the health check server.${ignoredWithConfig}` },
  { name: 'metrics-bind-address', type: 'string', typeName: 'ipport', default: '127.0.0.1:10249', to: ['metricsBindAddress'], usage: `The IP address and port for the metrics server to serve on, defaulting to "127.0.0.1:10249". (Set to "0.0.0.0:10249" / "[::]:10249" to bind on all interfaces.) Set empty to disable.${ignoredWithConfig}` },
  { name: 'bind-address-hard-fail', type: 'bool', default: 'false', to: ['bindAddressHardFail'], usage: `If true kube-proxy will treat failure to bind to a port as fatal and exit.${ignoredWithConfig}` },
  { name: 'healthz-port', type: 'int32', default: '10256', deprecated: 'This flag is deprecated and will be removed in a future release. Please use --healthz-bind-address instead.', usage: 'The port to bind the health check server. Use 0 to disable.' },
  { name: 'metrics-port', type: 'int32', default: '10249', deprecated: 'This flag is deprecated and will be removed in a future release. Please use --metrics-bind-address instead.', usage: 'The port to bind the metrics server. Use 0 to disable.' },
  { name: 'profiling', type: 'bool', default: 'false', to: ['enableProfiling'], usage: `If true enables profiling via web interface on /debug/pprof handler.${ignoredWithConfig}` },
  { name: 'show-hidden-metrics-for-version', type: 'string', default: '', to: ['showHiddenMetricsForVersion'], usage: 'The previous version for which you want to show hidden metrics. Only the previous minor version is meaningful, other values will not be allowed. The format is <major>.<minor>, e.g.: \'1.16\'.' },
  { name: 'oom-score-adj', type: 'int32', default: '-999', to: ['oomScoreAdj'], usage: `The oom-score-adj value for kube-proxy process. Values must be within the range [-1000, 1000].${ignoredWithConfig}` },
  { name: 'proxy-mode', type: 'string', typeName: 'ProxyMode', default: '', to: ['mode'], usage: `Which proxy mode to use: on Linux this can be 'iptables' (default), 'ipvs', or 'nftables'. kube-proxy-bpf accepts each of these (they only select which sync settings apply) and always runs its BPF datapath.${ignoredWithConfig}` },
  { name: 'masquerade-all', type: 'bool', default: 'false', to: ['iptables.masqueradeAll', 'nftables.masqueradeAll'], usage: `SNAT all traffic sent via Service cluster IPs. This may be required with some CNI plugins.${ignoredWithConfig}` },
  { name: 'cluster-cidr', type: 'string', default: '', to: ['clusterCIDR'], usage: `The CIDR range of the pods in the cluster. (For dual-stack clusters, this can be a comma-separated dual-stack pair of CIDR ranges.). When --detect-local-mode is set to ClusterCIDR, kube-proxy will consider traffic to be local if its source IP is in this range.${ignoredWithConfig}` },
  { name: 'nodeport-addresses', type: 'strings', default: '[]', to: ['nodePortAddresses'], usage: `A list of CIDR ranges that contain valid node IPs, or alternatively, the single string 'primary'. If set, connections to NodePort services will only be accepted on node IPs in one of the indicated ranges.${ignoredWithConfig}` },
  { name: 'detect-local-mode', type: 'string', typeName: 'LocalMode', default: '', to: ['detectLocalMode'], usage: `Mode to use to detect local traffic. Valid values are ClusterCIDR, NodeCIDR, BridgeInterface, InterfaceNamePrefix.${ignoredWithConfig}` },
  { name: 'pod-bridge-interface', type: 'string', default: '', to: ['detectLocal.bridgeInterface'], usage: `A bridge interface name. When --detect-local-mode is set to BridgeInterface, kube-proxy will consider traffic to be local if it originates from this bridge.${ignoredWithConfig}` },
  { name: 'pod-interface-name-prefix', type: 'string', default: '', to: ['detectLocal.interfaceNamePrefix'], usage: `An interface name prefix. When --detect-local-mode is set to InterfaceNamePrefix, kube-proxy will consider traffic to be local if it originates from any interface whose name begins with this prefix.${ignoredWithConfig}` },
  { name: 'iptables-sync-period', type: 'duration', default: '30s', to: ['iptables.syncPeriod', 'nftables.syncPeriod'], usage: `An interval (e.g. '5s', '1m', '2h22m') indicating how frequently various re-synchronizing and cleanup operations are performed. Must be greater than 0.${ignoredWithConfig}` },
  { name: 'iptables-min-sync-period', type: 'duration', default: '1s', to: ['iptables.minSyncPeriod', 'nftables.minSyncPeriod'], usage: `The minimum period between rule resyncs (e.g. '5s', '1m', '2h22m'). A value of 0 means every Service or EndpointSlice change will result in an immediate resync.${ignoredWithConfig}` },
  { name: 'iptables-masquerade-bit', type: 'int32', default: '14', to: ['iptables.masqueradeBit', 'nftables.masqueradeBit'], usage: `The bit of the fwmark space to mark packets requiring SNAT. Must be within the range [0, 31].${ignoredWithConfig}` },
  { name: 'iptables-localhost-nodeports', type: 'bool', default: 'true', to: ['iptables.localhostNodePorts'], usage: `If false, kube-proxy will disable the legacy behavior of allowing NodePort services to be accessed via localhost. (Applies only to iptables mode and IPv4.)${ignoredWithConfig}` },
  { name: 'ipvs-sync-period', type: 'duration', default: '30s', to: ['ipvs.syncPeriod'], usage: `An interval (e.g. '5s', '1m', '2h22m') indicating how frequently various re-synchronizing and cleanup operations are performed. Must be greater than 0.${ignoredWithConfig}` },
  { name: 'ipvs-min-sync-period', type: 'duration', default: '1s', to: ['ipvs.minSyncPeriod'], usage: `The minimum period between IPVS rule resyncs (e.g. '5s', '1m', '2h22m'). A value of 0 means every Service or EndpointSlice change will result in an immediate IPVS resync.${ignoredWithConfig}` },
  { name: 'ipvs-scheduler', type: 'string', default: '', to: ['ipvs.scheduler'], usage: `The ipvs scheduler type when proxy mode is ipvs.${ignoredWithConfig}` },
  { name: 'ipvs-exclude-cidrs', type: 'strings', default: '[]', to: ['ipvs.excludeCIDRs'], usage: `A comma-separated list of CIDRs which the ipvs proxier should not touch when cleaning up IPVS rules.${ignoredWithConfig}` },
  { name: 'ipvs-strict-arp', type: 'bool', default: 'false', to: ['ipvs.strictARP'], usage: `Enable strict ARP by setting arp_ignore to 1 and arp_announce to 2.${ignoredWithConfig}` },
  { name: 'ipvs-tcp-timeout', type: 'duration', default: '0s', to: ['ipvs.tcpTimeout'], usage: `The timeout for idle IPVS TCP connections, 0 to leave as-is. (e.g. '5s', '1m', '2h22m').${ignoredWithConfig}` },
  { name: 'ipvs-tcpfin-timeout', type: 'duration', default: '0s', to: ['ipvs.tcpFinTimeout'], usage: `The timeout for IPVS TCP connections after receiving a FIN packet, 0 to leave as-is. (e.g. '5s', '1m', '2h22m').${ignoredWithConfig}` },
  { name: 'ipvs-udp-timeout', type: 'duration', default: '0s', to: ['ipvs.udpTimeout'], usage: `The timeout for IPVS UDP packets, 0 to leave as-is. (e.g. '5s', '1m', '2h22m').${ignoredWithConfig}` },
  { name: 'conntrack-max-per-core', type: 'int32', default: '32768', to: ['conntrack.maxPerCore'], usage: `Maximum number of NAT connections to track per CPU core (0 to leave the limit as-is and ignore conntrack-min).${ignoredWithConfig}` },
  { name: 'conntrack-min', type: 'int32', default: '131072', to: ['conntrack.min'], usage: `Minimum number of conntrack entries to allocate, regardless of conntrack-max-per-core (set conntrack-max-per-core=0 to leave the limit as-is).${ignoredWithConfig}` },
  { name: 'conntrack-tcp-timeout-established', type: 'duration', default: '24h0m0s', to: ['conntrack.tcpEstablishedTimeout'], usage: `Idle timeout for established TCP connections (0 to leave as-is).${ignoredWithConfig}` },
  { name: 'conntrack-tcp-timeout-close-wait', type: 'duration', default: '1h0m0s', to: ['conntrack.tcpCloseWaitTimeout'], usage: `NAT timeout for TCP connections in the CLOSE_WAIT state.${ignoredWithConfig}` },
  { name: 'conntrack-tcp-be-liberal', type: 'bool', default: 'false', to: ['conntrack.tcpBeLiberal'], usage: `Enable liberal mode for tracking TCP packets by setting nf_conntrack_tcp_be_liberal to 1.${ignoredWithConfig}` },
  { name: 'conntrack-udp-timeout', type: 'duration', default: '0s', to: ['conntrack.udpTimeout'], usage: `Idle timeout for UNREPLIED UDP connections (0 to leave as-is).${ignoredWithConfig}` },
  { name: 'conntrack-udp-timeout-stream', type: 'duration', default: '0s', to: ['conntrack.udpStreamTimeout'], usage: `Idle timeout for ASSURED UDP connections (0 to leave as-is).${ignoredWithConfig}` },
].map((f) => ({ ...f, group: 'kube-proxy' }) as FlagSpec);

const logging: FlagSpec[] = [
  { name: 'v', short: 'v', type: 'level', default: '0', to: ['logging.verbosity'], usage: 'number for the log level verbosity' },
  { name: 'vmodule', type: 'vmodule', default: '', to: ['logging.vmodule'], usage: 'comma-separated list of pattern=N settings for file-filtered logging (only works for text log format)' },
  { name: 'logging-format', type: 'string', default: 'text', to: ['logging.format'], usage: 'Sets the log format. Permitted formats: "json" (gated by LoggingBetaOptions), "text".' },
  { name: 'log-flush-frequency', type: 'duration', default: '5s', to: ['logging.flushFrequency'], usage: 'Maximum number of seconds between log flushes' },
  { name: 'log-json-split-stream', type: 'bool', default: 'false', to: ['logging.options.json.splitStream'], usage: '[Alpha] In JSON format, write error messages to stderr and info messages to stdout. The default is to write a single stream to stdout. Enable the LoggingAlphaOptions feature gate to use this.' },
  { name: 'log-json-info-buffer-size', type: 'quantity', default: '0', to: ['logging.options.json.infoBufferSize'], usage: '[Alpha] In JSON format with split output streams, the info messages can be buffered for a while to increase performance. The default value of zero bytes disables buffering. Enable the LoggingAlphaOptions feature gate to use this.' },
  { name: 'log-text-split-stream', type: 'bool', default: 'false', to: ['logging.options.text.splitStream'], usage: '[Alpha] In text format, write error messages to stderr and info messages to stdout. The default is to write a single stream to stdout. Enable the LoggingAlphaOptions feature gate to use this.' },
  { name: 'log-text-info-buffer-size', type: 'quantity', default: '0', to: ['logging.options.text.infoBufferSize'], usage: '[Alpha] In text format with split output streams, the info messages can be buffered for a while to increase performance. The default value of zero bytes disables buffering. Enable the LoggingAlphaOptions feature gate to use this.' },
].map((f) => ({ ...f, group: 'logging' }) as FlagSpec);

// klog's own flags, merged in from Go's flag set; accepted for compatibility, with no effect.
const legacy: FlagSpec[] = [
  ['add_dir_header', 'bool'], ['alsologtostderr', 'bool'], ['log_backtrace_at', 'string'], ['log_dir', 'string'],
  ['log_file', 'string'], ['log_file_max_size', 'string'], ['logtostderr', 'bool'], ['one_output', 'bool'],
  ['skip_headers', 'bool'], ['skip_log_headers', 'bool'], ['stderrthreshold', 'string'],
].map(([name, type]) => ({ name, type: type as FlagType, default: '', usage: 'Legacy klog flag; accepted and ignored.', group: 'legacy', hidden: true }));

const bpf: FlagSpec[] = [
  { name: 'bpf-lb-mode', type: 'string', default: 'snat', usage: 'How NodePort/ExternalIP/LoadBalancer traffic reaches a backend on another node: snat, dsr, or hybrid (DSR for TCP, SNAT for UDP).' },
  { name: 'bpf-lb-algorithm', type: 'string', default: 'random', usage: 'Backend selection for new connections: random or maglev (consistent hashing).' },
  { name: 'bpf-maglev-table-size', type: 'int32', default: '16381', usage: 'Maglev lookup table size per service; must be a prime no larger than 65537.' },
  { name: 'bpf-xdp', type: 'string', default: 'native', usage: 'XDP acceleration on the external devices: native, off, or generic (veth tests only). Falls back to tc with a log line when the driver lacks native XDP.' },
  { name: 'bpf-socket-lb', type: 'string', default: 'on', usage: 'Socket-level load balancing at the cgroup connect/sendmsg hooks: on, off, or host-namespace-only.' },
  { name: 'bpf-devices', type: 'strings', default: '[]', usage: 'Comma-separated external network devices for tc/XDP programs; empty auto-detects the devices carrying the node IPs.' },
  { name: 'bpf-pin-path', type: 'string', default: '/sys/fs/bpf/kube-proxy-bpf', usage: 'bpffs directory where maps and links are pinned so they survive restarts.' },
  { name: 'bpf-cgroup-path', type: 'string', default: '', usage: 'cgroup v2 directory for the socket programs; empty means the cgroup2 mount root.' },
  { name: 'bpf-map-services', type: 'int32', default: '65536', usage: 'Maximum entries of the services map.' },
  { name: 'bpf-map-backends', type: 'int32', default: '65536', usage: 'Maximum entries of the backends map.' },
  { name: 'bpf-map-slots', type: 'int32', default: '262144', usage: 'Maximum entries of the backend slots map (services x backends).' },
  { name: 'bpf-map-conntrack', type: 'int32', default: '262144', usage: 'Maximum entries of each north-south conntrack map, one per IP family (kpb_ct4, kpb_ct6; LRU).' },
  { name: 'bpf-map-snat', type: 'int32', default: '262144', usage: 'Slots of the SNAT port reservation table per IP family (kpb_snat4, kpb_snat6; preallocated arrays, rounded up to a power of two, at most 8388608; a reservation is never evicted while its flow lives and is freed once it ended). A new SNAT flow whose port walk finds its slots held by other flows is dropped and counted (snat_map_full).' },
  { name: 'bpf-map-affinity', type: 'int32', default: '65536', usage: 'Maximum entries of the session affinity map (LRU).' },
  { name: 'bpf-map-sock-rev-nat', type: 'int32', default: '262144', usage: 'Maximum entries of the socket reverse NAT map (LRU).' },
  { name: 'bpf-remove-stale-kube-proxy-rules', type: 'bool', default: 'true', usage: 'At start-up, remove iptables chains and nftables tables left by a previous kube-proxy, which would otherwise still capture service traffic.' },
  { name: 'bpf-nodeport-snat-port-range', type: 'portRange', default: '61000-65535', usage: 'MIN-MAX source ports for SNAT of NodePort traffic forwarded to other nodes.' },
].map((f) => ({ ...f, group: 'bpf' }) as FlagSpec);

/** All flags, in help order. */
export const FLAGS: FlagSpec[] = [...kubeProxy, ...logging, ...bpf, ...legacy];

/**
 * Flags kube-proxy once had and no longer accepts. They stay unknown-flag errors, as upstream,
 * but the error says what happened to them.
 */
export const REMOVED_FLAGS: Record<string, string> = {
  'udp-timeout': 'it belonged to the removed userspace proxy mode',
  'proxy-port-range': 'it belonged to the removed userspace proxy mode',
  'resource-container': 'it was removed from kube-proxy',
  'cleanup-ipvs': 'use --cleanup',
  'cleanup-iptables': 'use --cleanup',
  'windows-service': 'it is Windows-only',
  'source-vip': 'it is Windows-only',
  'network-name': 'it is Windows-only',
  'enable-dsr': 'it is Windows-only',
};
