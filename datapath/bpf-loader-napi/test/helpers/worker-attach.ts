/**
 * Worker for lifecycle.test.ts: loads the fixture and attaches connect4 to the cgroup it is given,
 * reports the link and waits, never closing anything, until the test terminates it. The addon's environment cleanup hook must
 * release the link when the worker's environment goes away.
 * @module
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BpfObject, attachCgroup } from '../../lib/index.ts';

const { objectPath, cgroupPath } = workerData as { objectPath: string; cgroupPath: string };
const coll = await BpfObject.open(objectPath).load();
const link = attachCgroup(coll.program('connect4_redirect'), cgroupPath);
parentPort!.postMessage({ linkId: link.info().id });
// Stay alive (a listening port keeps the worker running) until the test terminates it.
parentPort!.on('message', () => undefined);
