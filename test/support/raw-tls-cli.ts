/**
 * Sends raw bytes over TLS and reports what came back, for HTTP-level tests of the real daemon
 * inside a test's network namespace:
 *
 *   ip netns exec NS node dist/test/support/raw-tls-cli.js --port P --request HEX [--request HEX …]
 *
 * One connection per --request (hex-encoded bytes, sent in one write), one JSON line each:
 * {"response": "<latin1 text>", "closed": true|false}. `closed` = the server ended the connection
 * within 5 s; after a 200 we stop reading at the end of the header block (the SSTP stream stays open).
 */
import { connect } from 'node:tls';
import { parseArgs } from 'node:util';

interface Outcome {
  readonly response: string;
  readonly closed: boolean;
}

function probe(host: string, port: number, request: Buffer): Promise<Outcome> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let done = false;
    const socket = connect({ host, port, servername: 'localhost', rejectUnauthorized: false });
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ response: Buffer.concat(chunks).toString('latin1'), closed });
    };
    const timer = setTimeout(() => finish(false), 5000);
    socket.once('secureConnect', () => socket.write(request));
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      const text = Buffer.concat(chunks).toString('latin1');
      if (text.startsWith('HTTP/1.1 200 ') && text.includes('\r\n\r\n')) finish(false);
    });
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      request: { type: 'string', multiple: true, default: [] },
    },
  });
  for (const hex of values.request!) {
    const r = await probe(values.host!, Number(values.port), Buffer.from(hex, 'hex'));
    process.stdout.write(JSON.stringify(r) + '\n');
  }
}

void main();
