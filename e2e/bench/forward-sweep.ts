// The shape of the forward part's results before issue 12: a trafgen rate sweep per contender
// (client -> node-a NodePort -> pod on node-b, machine-wide CPU per forwarded packet). forward.ts
// measures live frames on one pinned CPU instead; these types remain so that older results files
// (e2e/bench/latest, results/) are still read and rendered.

export interface RatePoint {
  /** Requested rate (0 = unlimited). */
  requestedPps: number;
  offeredPps: number;
  forwardedPps: number;
  lossRatio: number;
  windowS: number;
  /** Machine-wide CPU seconds per second by state over the window. */
  cpu: { user: number; system: number; softirq: number; idle: number };
  /** (system + softirq) machine-wide, per forwarded packet. */
  kernelNsPerPacket: number;
}

export type ContenderResult =
  | { name: string; status: 'ok'; how: string; points: RatePoint[] }
  | { name: string; status: 'not run'; reason: string };
