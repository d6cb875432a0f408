/**
 * @module
 * pflag-style help text (`      --bind-address string   usage (default "0.0.0.0")`), sorted by
 * name as kube-proxy's is, with our --bpf-* flags in their own section.
 */
import type { FlagSpec } from './flags.ts';

const TYPE_NAME: Record<FlagSpec['type'], string> = {
  string: 'string', bool: '', int32: 'int32', float: 'float32', duration: 'duration', strings: 'strings',
  mapStringBool: 'mapStringBool', level: 'Level', vmodule: 'pattern=N,...', quantity: 'quantity', portRange: 'MIN-MAX', ip: 'ip',
};

const DESCRIPTION = `The Kubernetes network proxy runs on each node. This reflects services as defined in the Kubernetes API
on each node. kube-proxy-bpf is a drop-in replacement that programs a BPF datapath instead of
iptables, IPVS or nftables rules; it takes kube-proxy's flags and KubeProxyConfiguration file.`;

/** The full --help text. */
export function formatHelp(flags: FlagSpec[]): string {
  const visible = flags.filter((f) => !f.hidden && !f.deprecated);
  const section = (list: FlagSpec[]) => {
    const rows = [...list].sort((a, b) => a.name.localeCompare(b.name)).map((f) => {
      const left = `${f.short ? `-${f.short}, ` : '    '}--${f.name}${(f.typeName ?? TYPE_NAME[f.type]) ? ` ${f.typeName ?? TYPE_NAME[f.type]}` : ''}`;
      return [left, f.usage + defaultSuffix(f)] as const;
    });
    const width = Math.max(...rows.map(([l]) => l.length));
    return rows.map(([l, r]) => `  ${l.padEnd(width)}   ${r}`).join('\n');
  };
  return [
    DESCRIPTION,
    '',
    'Usage:',
    '  kube-proxy [flags]',
    '',
    'Flags:',
    section(visible.filter((f) => f.group !== 'bpf')),
    '',
    'BPF datapath flags (kube-proxy-bpf only; they apply with or without --config):',
    section(visible.filter((f) => f.group === 'bpf')),
    '',
  ].join('\n');
}

function defaultSuffix(f: FlagSpec): string {
  if (f.name === 'help' || f.name === 'version') return '';
  if (f.type === 'bool') return f.default === 'true' ? ' (default true)' : '';
  if (f.default === '' || f.default === '[]' || (f.type === 'level' && f.default === '0')) return '';
  if (f.type === 'string' || f.type === 'portRange') return ` (default ${JSON.stringify(f.default)})`;
  return ` (default ${f.default})`;
}
