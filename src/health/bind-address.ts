/**
 * @module
 * Parses the `healthzBindAddress` and `metricsBindAddress` values of KubeProxyConfiguration
 * (and the `--healthz-bind-address` / `--metrics-bind-address` flags) into a host and a port.
 */
import { isIP } from 'node:net';

/** Where a server listens; `host` is a bare IP (no brackets). */
export interface BindAddress {
  host: string;
  port: number;
}

/**
 * Parse an `ip:port` bind address the way kube-proxy accepts it.
 *
 * Accepted forms: `0.0.0.0:10256`, `[::]:10256`, `[::1]:10249`, and, because kube-proxy appends
 * the default port when it is missing, a bare IP (`0.0.0.0`, `::`, `[::1]`).
 *
 * @param value the configured string
 * @param defaultPort appended when `value` has no port (10256 for health, 10249 for metrics)
 * @param field the config field name, used in error messages
 * @returns the host and port, or `null` when `value` is empty (the server is disabled)
 * @throws {SyntaxError} when the value is not an IP with an optional port
 * @throws {RangeError} when the port is outside 0..65535
 */
export function parseBindAddress(value: string, defaultPort: number, field = 'bindAddress'): BindAddress | null {
  const text = value.trim();
  if (text === '') return null;
  let host: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) throw new SyntaxError(`Cannot parse ${field} "${value}": missing "]"`);
    host = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) throw new SyntaxError(`Cannot parse ${field} "${value}": expected ":" after "]"`);
      portText = rest.slice(1);
    }
    if (isIP(host) !== 6) throw new SyntaxError(`Cannot parse ${field} "${value}": "${host}" is not an IPv6 address`);
  } else if (isIP(text) !== 0) {
    // A bare IPv6 address has colons of its own, so it can only mean "no port".
    host = text;
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) throw new SyntaxError(`Cannot parse ${field} "${value}": not an IP address`);
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (isIP(host) !== 4) {
      throw new SyntaxError(`Cannot parse ${field} "${value}": "${host}" is not an IP address (IPv6 needs brackets with a port)`);
    }
  }
  if (portText === undefined) return { host, port: defaultPort };
  if (!/^[0-9]+$/.test(portText)) throw new SyntaxError(`Cannot parse ${field} "${value}": port "${portText}" is not a number`);
  const port = Number(portText);
  if (port > 65535) throw new RangeError(`Cannot use ${field} "${value}": port ${port} is outside 0..65535`);
  return { host, port };
}

/** Format a bind address back into `ip:port`, bracketing IPv6 hosts. */
export function formatBindAddress(addr: BindAddress): string {
  return isIP(addr.host) === 6 ? `[${addr.host}]:${addr.port}` : `${addr.host}:${addr.port}`;
}
