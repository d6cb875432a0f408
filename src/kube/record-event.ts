/**
 * @module
 * Records Events like kube-proxy's recorder (reporting controller `kube-proxy`, spec §3.4): a POST
 * of a core/v1 Event through undici with the client configuration's TLS material and credentials.
 * Best effort: failures go to `onError` and never affect the proxy.
 */
import { Agent, request } from 'undici';
import type { HttpsOptions, KubeClientConfig } from './kube-config.ts';

export type EventTarget = { kind: 'Node' | 'Service'; name: string; namespace?: string; uid?: string };
export type RecordEvent = (target: EventTarget, type: 'Normal' | 'Warning', reason: string, message: string) => void;

export interface EventRecorderOptions {
  kc: KubeClientConfig;
  /** The reporting instance and source host (the node name). */
  nodeName: string;
  userAgent: string;
  onError: (err: unknown, reason: string, object: string) => void;
}

/** The Event object for `target` (events of cluster-scoped objects live in "default", as client-go records them). */
export function eventFor(target: EventTarget, type: string, reason: string, message: string, nodeName: string, now: Date): Record<string, unknown> {
  const ts = now.toISOString().replace(/\.\d+Z$/, 'Z');
  return {
    apiVersion: 'v1', kind: 'Event',
    metadata: { generateName: `${target.name}.`, namespace: target.namespace ?? 'default' },
    involvedObject: { kind: target.kind, name: target.name, ...(target.namespace ? { namespace: target.namespace } : {}), ...(target.uid ? { uid: target.uid } : {}), apiVersion: 'v1' },
    type, reason, message,
    source: { component: 'kube-proxy', host: nodeName },
    reportingComponent: 'kube-proxy', reportingInstance: nodeName,
    firstTimestamp: ts, lastTimestamp: ts, count: 1,
  };
}

export function eventRecorder(o: EventRecorderOptions): RecordEvent {
  return (target, type, reason, message) => {
    const body = eventFor(target, type, reason, message, o.nodeName, new Date());
    const namespace = (body.metadata as { namespace: string }).namespace;
    const object = `${target.kind} ${namespace}/${target.name}`;
    void post(o, `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`, body).catch((err: unknown) => o.onError(err, reason, object));
  };
}

async function post(o: EventRecorderOptions, path: string, body: unknown): Promise<void> {
  const server = o.kc.getCurrentCluster()?.server ?? '';
  const base = new URL(server);
  const url = new URL(base.pathname.replace(/\/+$/, '') + path, base);
  const opts: HttpsOptions = {};
  await o.kc.applyToHTTPSOptions(opts);
  const headers: Record<string, string> = { 'Content-Type': 'application/json', Accept: 'application/json', 'User-Agent': o.userAgent, ...opts.headers };
  if (opts.auth) headers.Authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
  const agent = new Agent({ connect: { ca: opts.ca, cert: opts.cert, key: opts.key, rejectUnauthorized: opts.rejectUnauthorized !== false, servername: opts.servername } });
  try {
    const res = await request(url, { method: 'POST', headers, body: JSON.stringify(body), dispatcher: agent, headersTimeout: 10_000, bodyTimeout: 10_000 });
    const text = await res.body.text();
    if (res.statusCode >= 300) throw new Error(`POST ${path}: HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
  } finally {
    await agent.close();
  }
}
