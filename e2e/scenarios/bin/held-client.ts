// Long-lived clients of an echo-server.ts Service, for the stale-backend scenario. Prints one JSON
// event per line, each with `at` (Date.now()), so the test can time what happens after it changes
// the endpoints:
//   {"event":"ready","udp":[names],"tcp":[names]}   every socket got its first answer
//   {"event":"error","proto","i","backend","code"}   a held socket reported an error
//   {"event":"close","proto":"tcp","i","backend"}    a held TCP connection closed without error
//   {"event":"reconnected","i","backend"}            a UDP socket that failed was replaced by a new
//                                                    connected one, and this backend answered it
//   {"event":"answer","i","backend"}                 stream mode: a reply (every one is printed)
// Every connected UDP socket sends one datagram every 200 ms, so a socket whose backend left keeps
// being answered by it unless something ends the socket (the removed pod is still running).
//   usage: held-client.ts hold <host> <udpPort> <tcpPort> <count> <seconds>
//          held-client.ts stream <host> <udpPort> <seconds>    (one connected UDP socket, no reconnect)
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, isIPv6 } from 'node:net';

const [mode, host, ...rest] = process.argv.slice(2);
const emit = (o: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify({ ...o, at: Date.now() })}\n`);
const nameOf = (line: string): string => (JSON.parse(line) as { name: string }).name;
const code = (err: NodeJS.ErrnoException): string => err.code ?? err.message;

/** A connected UDP socket sending every 200 ms; `onAnswer` gets each reply's server name. */
function udpClient(port: number, onAnswer: (name: string) => void, onError: (err: NodeJS.ErrnoException) => void): Promise<UdpSocket> {
  const sock = createSocket(isIPv6(host!) ? 'udp6' : 'udp4');
  sock.on('message', (d) => onAnswer(nameOf(d.toString('utf8').trimEnd())));
  let ticker: NodeJS.Timeout | undefined;
  sock.on('error', (err: NodeJS.ErrnoException) => {
    clearInterval(ticker);
    onError(err);
  });
  sock.on('close', () => clearInterval(ticker));
  return new Promise((resolve, reject) => {
    sock.connect(port, host!, (...args: unknown[]) => {
      const err = args[0] as NodeJS.ErrnoException | undefined;
      if (err) return reject(err);
      const send = (): void => sock.send('ping', (e) => {
        if (e) {
          clearInterval(ticker);
          onError(e);
        }
      });
      send();
      ticker = setInterval(send, 200);
      resolve(sock);
    });
  });
}

function firstAnswer(register: (cb: (name: string) => void) => void, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what}: no answer within 5 s`)), 5_000);
    register((name) => {
      clearTimeout(t);
      resolve(name);
    });
  });
}

if (mode === 'hold') {
  const [udpPort, tcpPort, countText, secondsText] = rest.map(Number);
  const count = countText!;
  setTimeout(() => process.exit(0), secondsText! * 1000).unref();
  const udpNames: string[] = [];
  const tcpNames: string[] = [];
  for (let i = 0; i < count; i++) {
    let backend = '';
    let first: ((n: string) => void) | null = null;
    const failed = { done: false };
    const onError = (err: NodeJS.ErrnoException): void => {
      if (failed.done) return;
      failed.done = true;
      emit({ event: 'error', proto: 'udp', i, backend, code: code(err) });
      void sock.then((s) => s.close());
      // What a client does next: a new connected socket, load-balanced afresh.
      let answered = false;
      udpClient(udpPort!, (name) => {
        if (answered) return;
        answered = true;
        emit({ event: 'reconnected', i, backend: name });
      }, (e) => emit({ event: 'error', proto: 'udp-reconnected', i, code: code(e) })).catch((e: NodeJS.ErrnoException) => emit({ event: 'error', proto: 'udp-reconnect', i, code: code(e) }));
    };
    const sock = udpClient(udpPort!, (name) => first?.(name), onError);
    await sock;
    backend = await firstAnswer((cb) => { first = cb; }, `udp socket ${i}`);
    first = null;
    udpNames.push(backend);
  }
  for (let i = 0; i < count; i++) {
    const sock = connect({ host: host!, port: tcpPort! });
    let buf = '';
    let backend = '';
    let first: ((n: string) => void) | null = null;
    let errored = false;
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write('hello\n'));
    sock.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        first?.(nameOf(buf.slice(0, nl)));
        buf = buf.slice(nl + 1);
      }
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      errored = true;
      emit({ event: 'error', proto: 'tcp', i, backend, code: code(err) });
    });
    sock.on('close', () => {
      if (!errored) emit({ event: 'close', proto: 'tcp', i, backend });
    });
    backend = await firstAnswer((cb) => { first = cb; }, `tcp connection ${i}`);
    first = null;
    tcpNames.push(backend);
  }
  emit({ event: 'ready', udp: udpNames, tcp: tcpNames });
} else if (mode === 'stream') {
  const [udpPort, secondsText] = rest.map(Number);
  setTimeout(() => process.exit(0), secondsText! * 1000).unref();
  await udpClient(udpPort!, (name) => emit({ event: 'answer', i: 0, backend: name }), (err) => {
    emit({ event: 'error', proto: 'udp', i: 0, code: code(err) });
    process.exit(1);
  });
} else {
  console.error('usage: held-client.ts hold <host> <udpPort> <tcpPort> <count> <seconds> | stream <host> <udpPort> <seconds>');
  process.exit(2);
}
