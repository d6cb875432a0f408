// Runs a short-lived command to completion with a hard timeout. Every harness step that shells out
// (ip, openssl, sysctl) goes through here so a hung tool fails the test with its name and stderr
// instead of hanging the suite.
import { spawn } from 'node:child_process';

export interface RunOptions {
  /** Milliseconds before the command is killed and the call rejects. */
  timeoutMs?: number;
  /** Working directory. */
  cwd?: string;
  /** Data written to stdin (then closed). */
  input?: string;
  /** Resolve instead of reject on a non-zero exit (the caller inspects `code`). */
  allowFailure?: boolean;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const [cmd, ...args] = argv;
  if (cmd === undefined) return Promise.reject(new Error('run: empty command'));
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${argv.join(' ')}: timed out after ${timeoutMs} ms; stderr: ${stderr.trim()}`));
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${argv.join(' ')}: cannot start: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const rc = code ?? 128;
      if (rc !== 0 && !opts.allowFailure) {
        reject(new Error(`${argv.join(' ')}: exited ${code ?? signal}; stderr: ${stderr.trim()}`));
        return;
      }
      resolve({ code: rc, stdout, stderr });
    });
    if (opts.input !== undefined) {
      // A command may exit without reading its input; that is its exit code's business, not EPIPE's.
      child.stdin!.on('error', () => {});
      child.stdin!.end(opts.input);
    }
  });
}
