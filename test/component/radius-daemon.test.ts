/**
 * The daemon in-process with fake TUN devices and a recording Shaper (the kernel shaper is another
 * issue's), a real FreeRADIUS and radclient on the host loopback, and our TLS client: the rate limit
 * from Access-Accept reaches the shaper, and a CoA-Request changes it on the live session, visible
 * in `sstpctl show sessions`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Daemon } from '../../src/server/daemon.js';
import { silentLogger } from '../../src/common/log.js';
import type { TunDevice } from '../../src/dataplane/tun.js';
import { FakeTun } from '../support/fake-tun.js';
import type { Shaper } from '../../src/dataplane/shaper-api.js';
import type { RateLimit } from '../../src/config/model.js';
import type { FramedRoute } from '../../src/auth/backend.js';
import { generateTestCertificates } from '../../src/config/certs.js';
import { TestClient } from '../support/client.js';
import { startInProcess } from '../support/in-process.js';
import { freeHostPort, runCommand, sstpctlPath, eventually } from '../support/daemon.js';
import { freeRadiusUnavailable, startFreeRadius, type FreeRadius, radiusModeLines } from '../support/freeradius.js';

class RecordingShaper implements Shaper {
  readonly calls: { ifname: string; limit: RateLimit | undefined }[] = [];
  apply(ifname: string, limit: RateLimit | undefined): Promise<void> {
    this.calls.push({ ifname, limit });
    return Promise.resolve();
  }
}

function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const SECRET = 'component-secret';
const DAE_SECRET = 'component-dae';

describe('RADIUS rate limits and CoA against the in-process daemon', { skip: freeRadiusUnavailable() }, () => {
  let dir: string;
  let fr: FreeRadius;
  let daemon: Daemon;
  let port: number;
  let daePort: number;
  const shaper = new RecordingShaper();
  const routes: { ifname: string; route: FramedRoute }[] = [];
  let tunCount = 0;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sstpd-radius-comp-'));
    const certs = await generateTestCertificates(dir);
    const authPort = await freeUdpPort();
    const acctPort = await freeUdpPort();
    daePort = await freeUdpPort();
    port = await freeHostPort();
    fr = await startFreeRadius({
      authPort,
      acctPort,
      clients: [{ ipaddr: '127.0.0.1', secret: SECRET }],
      users: [{ name: 'carol', password: 'carol-pw', reply: ['Filter-Id = "4000/2000"', 'Framed-Route = "10.77.0.0/24"'] }],
    });
    const R = 'set vpn sstp authentication radius';
    daemon = await startInProcess({
      dir,
      certs,
      port,
      lines: [
        ...radiusModeLines(SECRET, authPort, acctPort),
        `${R} dynamic-author server 127.0.0.1`,
        `${R} dynamic-author port ${daePort}`,
        `${R} dynamic-author key ${DAE_SECRET}`,
        `${R} rate-limit enable`,
      ],
      log: silentLogger(),
      shaper,
      sessionIo: {
        openTun: (onPackets): TunDevice => new FakeTun(onPackets, { name: `sstpfake${tunCount++}` }),
        configureInterface: () => undefined,
        addRoute: (ifname, route) => {
          routes.push({ ifname, route });
          return Promise.resolve();
        },
      },
    });
  });

  after(async () => {
    await daemon?.stop();
    await fr?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const showSessions = async (): Promise<Record<string, unknown>[]> => {
    const r = await runCommand(process.execPath, [sstpctlPath(), '--state-dir', join(dir, 'state'), 'show', 'sessions', '--json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as Record<string, unknown>[];
  };

  it('Access-Accept Filter-Id → shaper; CoA Filter-Id → new limit on the live session (ACK, sstpctl shows it)', async () => {
    const c = await TestClient.connect({ port, username: 'carol', password: 'carol-pw', auth: ['mschap-v2'] });
    try {
      const ifname = `sstpfake${tunCount - 1}`;
      await eventually(() => shaper.calls.length > 0, 5000, 'the shaper to be called');
      assert.deepEqual(shaper.calls[0], { ifname, limit: { downloadKbit: 4000, uploadKbit: 2000 } });
      assert.deepEqual(routes, [{ ifname, route: { prefix: '10.77.0.0/24' } }]);
      const [row] = await showSessions();
      assert.equal(row?.['rateLimit'], '4000/2000');

      const coa = await fr.radclient(`127.0.0.1:${daePort}`, 'coa', DAE_SECRET, 'User-Name = carol, Filter-Id = "8000/3000"');
      assert.equal(coa.code, 0, coa.out);
      assert.match(coa.out, /Received CoA-ACK/);
      assert.deepEqual(shaper.calls[1], { ifname, limit: { downloadKbit: 8000, uploadKbit: 3000 } });
      assert.equal((await showSessions())[0]?.['rateLimit'], '8000/3000');
      const table = await runCommand(process.execPath, [sstpctlPath(), '--state-dir', join(dir, 'state'), 'show', 'sessions']);
      assert.match(table.stdout, /rate-limit/);
      assert.match(table.stdout, / 8000\/3000 /);

      const bad = await fr.radclient(`127.0.0.1:${daePort}`, 'coa', DAE_SECRET, 'User-Name = carol, Filter-Id = "as fast as you can"');
      assert.match(bad.out, /Received CoA-NAK/);
      assert.match(bad.out, /Error-Cause = Invalid-Attribute-Value/);
      assert.equal(shaper.calls.length, 2, 'a refused CoA changes nothing');
      assert.equal((await showSessions())[0]?.['rateLimit'], '8000/3000');
    } finally {
      await c.close();
    }
  });
});
