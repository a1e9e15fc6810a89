/**
 * A TCP byte-pattern check for data-path tests, run as a process inside a namespace:
 *
 *   tcp-pattern.js serve PORT            accepts connections; each starts with 'U' or 'D' + 8-byte length:
 *                                        U: reads that many bytes; D: sends that many pattern bytes.
 *                                        Prints one JSON line per connection: { mode, bytes, sha256 }.
 *   tcp-pattern.js up|down HOST PORT N   the client side; prints { mode, bytes, sha256 } of what it sent/received.
 *
 * The pattern is pseudo-random (an LCG), so a lost, repeated or reordered segment changes the hash.
 */
import { createHash } from 'node:crypto';
import { connect, createServer, type Socket } from 'node:net';

const BLOCK = patternBlock(1 << 20);

function patternBlock(n: number): Buffer {
  const b = Buffer.allocUnsafe(n + 13);
  let x = 0x12345678;
  for (let i = 0; i < b.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

/** Writes `total` pattern bytes (respecting back-pressure), hashing them; resolves with the hash. */
function sendPattern(sock: Socket, total: number): Promise<string> {
  const hash = createHash('sha256');
  let sent = 0;
  return new Promise((resolve, reject) => {
    sock.on('error', reject);
    const pump = (): void => {
      while (sent < total) {
        const chunk = BLOCK.subarray(0, Math.min(BLOCK.length, total - sent));
        hash.update(chunk);
        sent += chunk.length;
        if (!sock.write(chunk)) return void sock.once('drain', pump);
      }
      sock.end(() => resolve(hash.digest('hex')));
    };
    pump();
  });
}

/** Reads until `total` bytes (or the end), hashing them. */
function receive(sock: Socket, total: number, first: Buffer = Buffer.alloc(0)): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  const take = (b: Buffer): void => {
    const part = b.subarray(0, Math.max(0, total - bytes));
    hash.update(part);
    bytes += part.length;
  };
  take(first);
  return new Promise((resolve, reject) => {
    const done = (): void => resolve({ bytes, sha256: hash.digest('hex') });
    if (bytes >= total) return done();
    sock.on('data', (b: Buffer) => {
      take(b);
      if (bytes >= total) {
        sock.removeAllListeners('data');
        done();
      }
    });
    sock.on('end', () => bytes < total && done());
    sock.on('error', reject);
  });
}

function print(o: object): void {
  process.stdout.write(JSON.stringify(o) + '\n');
}

function serve(port: number): void {
  createServer((sock) => {
    let head = Buffer.alloc(0);
    const onHead = (b: Buffer): void => {
      head = Buffer.concat([head, b]);
      if (head.length < 9) return;
      sock.off('data', onHead);
      const mode = head[0] === 0x55 ? 'up' : 'down';
      const n = Number(head.readBigUInt64BE(1));
      const rest = head.subarray(9);
      if (mode === 'up') void receive(sock, n, rest).then((r) => (print({ mode, ...r }), sock.end()), (e: Error) => print({ mode, error: e.message }));
      else void sendPattern(sock, n).then((sha256) => print({ mode, bytes: n, sha256 }), (e: Error) => print({ mode, error: e.message }));
    };
    sock.on('data', onHead);
    sock.on('error', () => undefined);
  }).listen(port, () => print({ mode: 'listening', port }));
}

function client(mode: 'up' | 'down', host: string, port: number, n: number): void {
  const sock = connect(port, host, () => {
    const head = Buffer.alloc(9);
    head[0] = mode === 'up' ? 0x55 : 0x44;
    head.writeBigUInt64BE(BigInt(n), 1);
    sock.write(head);
    if (mode === 'up') void sendPattern(sock, n).then((sha256) => print({ mode, bytes: n, sha256 }));
    else void receive(sock, n).then((r) => (print({ mode, ...r }), sock.end()));
  });
  sock.on('error', (e) => {
    print({ mode, error: e.message });
    process.exitCode = 1;
  });
}

const [cmd, a, b, c] = process.argv.slice(2);
if (cmd === 'serve') serve(Number(a));
else if (cmd === 'up' || cmd === 'down') client(cmd, a ?? '', Number(b), Number(c));
else {
  process.stderr.write('usage: tcp-pattern.js serve PORT | up|down HOST PORT BYTES\n');
  process.exitCode = 2;
}
