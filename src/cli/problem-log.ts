/**
 * @module
 * ProblemLog: how problems found in API objects reach the log and the metrics, with bounds an
 * object cannot break (issue 11): each is counted in kubeproxy_bpf_bad_objects_total{kind, reason}
 * (reason an enumerated ProblemReason, never a field path or a value), once per object version
 * (informer resyncs repeat a version); the log gets at most one line per object per minute, which
 * names the first problem and how many more there were, so a slice of 1,000 bad endpoints is one
 * line, and an object rewritten in a loop is still one line a minute.
 */
import type { Logger } from '../log/logger.ts';
import { RateLimitedLog } from '../log/rate-limited-log.ts';
import type { Problem, ProblemReason } from '../model/problem.ts';

export type ProblemLogOptions = {
  logger: Logger;
  /** Counts one problem: `kind` is the object's kind (Service, EndpointSlice, ...). */
  count: (kind: string, reason: ProblemReason) => void;
  now: () => number;
  /** @default 60000 */
  intervalMs?: number;
};

export class ProblemLog {
  readonly #o: ProblemLogOptions;
  readonly #limit: RateLimitedLog;
  /** object -> resourceVersion whose problems were counted. */
  #versions = new Map<string, string>();

  constructor(o: ProblemLogOptions) {
    this.#o = o;
    this.#limit = new RateLimitedLog({ now: o.now, intervalMs: o.intervalMs ?? 60_000 });
  }

  /** The problems of one version of one object (an informer event). */
  object(problems: Problem[], version: string | undefined): void {
    if (problems.length === 0) return;
    const object = problems[0]!.object;
    if (version !== undefined) {
      if (this.#versions.get(object) === version) return;
      this.#versions.set(object, version);
    }
    for (const p of problems) this.#count(p);
    this.#log(problems[0]!, problems.length - 1);
  }

  /** The object is gone: its next version (a new object of that name) is counted and logged afresh. */
  deleted(object: string): void {
    this.#versions.delete(object);
    this.#limit.forget(object);
  }

  /** A problem found while programming (a frontend conflict, too many backends, a full map). */
  report(p: Problem): void {
    this.#count(p);
    this.#log(p, 0);
  }

  #count(p: Problem): void {
    this.#o.count(p.object.split(' ')[0] ?? '', p.reason);
  }

  #log(p: Problem, more: number): void {
    this.#limit.log(p.object, (held) => {
      this.#o.logger.warning('Ignoring part of an object', {
        object: p.object, field: p.field, reason: p.message,
        ...(more > 0 ? { moreProblems: more } : {}),
        ...(held > 0 ? { suppressedLines: held } : {}),
      });
    });
  }
}
