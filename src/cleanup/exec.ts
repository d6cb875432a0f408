/**
 * @module
 * How cleanup runs iptables/nft: an injected function, so tests run the very same code inside a
 * throwaway network namespace and never touch the host's rules.
 */
import { spawn } from 'node:child_process';

export type ExecResult = { code: number; stdout: string; stderr: string };

/** Runs `argv` with optional stdin; never rejects (a missing binary is code 127). */
export type Exec = (argv: string[], input?: string) => Promise<ExecResult>;

/**
 * An Exec that runs commands on this host, or inside network namespace `netns`
 * (through `ip netns exec`) when one is given.
 */
export function commandExec(netns?: string): Exec {
  return (argv, input) =>
    new Promise((resolve) => {
      const full = netns ? ['ip', 'netns', 'exec', netns, ...argv] : argv;
      const child = spawn(full[0], full.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('error', (e) => resolve({ code: 127, stdout, stderr: stderr + e.message }));
      child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
      child.stdin.on('error', () => {}); // the command may exit before reading its input
      child.stdin.end(input ?? '');
    });
}
