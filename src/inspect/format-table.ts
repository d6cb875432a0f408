/**
 * @module
 * Plain text tables for `kube-proxy inspect`: a header row, columns padded to their widest cell,
 * two spaces between columns, no trailing spaces.
 */

/** Formats `rows` under `header`; every row must have header.length cells. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}
