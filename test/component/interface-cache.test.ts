/**
 * The in-process daemon with `ppp-options interface-cache`, fake TUN devices that take the name
 * asked for, and a RADIUS server on a loopback UDP socket (the verifying fake of radius-fake.ts):
 * the first Access-Request already names the interface (NAS-Port-Id), that is the interface the
 * session gets, and a later session gets the ended session's interface back instead of a new one.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Daemon } from '../../src/server/daemon.js';
import type { BatchHandler, OpenTunOptions, TunDevice } from '../../src/dataplane/tun.js';
import { generateTestCertificates } from '../../src/config/certs.js';
import { ATTR } from '../../src/radius/attributes.js';
import { CODE, decodePacket, textValue } from '../../src/radius/packet.js';
import { FakeTun } from '../support/fake-tun.js';
import { answerAccessRequest, replyTo } from '../support/radius-fake.js';
import { TestClient } from '../support/client.js';
import { radiusModeLines } from '../support/freeradius.js';
import { eventually, freeHostPort } from '../support/daemon.js';
import { collectingLogger, startInProcess } from '../support/in-process.js';

const SECRET = 'cache-secret';

describe('interface-cache and NAS-Port-Id in the in-process daemon', () => {
  let dir: string;
  let daemon: Daemon;
  let radius: Socket;
  let port: number;
  const tuns: FakeTun[] = [];
  const logs: Record<string, unknown>[] = [];
  /** NAS-Port-Id of every Access-Request, in order (undefined when absent). */
  const nasPortIds: (string | undefined)[] = [];
  const resets: string[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sstpd-ifcache-'));
    const certs = await generateTestCertificates(dir);
    port = await freeHostPort();
    radius = createSocket('udp4');
    const users = new Map([['alice', { password: 'alice-pw' }]]);
    radius.on('message', (msg, from) => {
      const req = decodePacket(msg);
      const reply = req.code === CODE.ACCESS_REQUEST
        ? (nasPortIds.push(textValue(req.attributes.find((a) => a.type === ATTR.NAS_PORT_ID)?.value)),
          answerAccessRequest(msg, Buffer.from(SECRET), users))
        : replyTo(msg, Buffer.from(SECRET));
      radius.send(reply, from.port, from.address);
    });
    await new Promise<void>((r) => radius.bind(0, '127.0.0.1', r));
    daemon = await startInProcess({
      dir,
      certs,
      port,
      lines: [
        ...radiusModeLines(SECRET, radius.address().port, radius.address().port),
        'set vpn sstp ppp-options interface-cache 1',
      ],
      log: collectingLogger(logs),
      sessionIo: {
        openTun: (onPackets: BatchHandler, o?: OpenTunOptions): TunDevice => {
          const t = new FakeTun(onPackets, { name: o?.nameTemplate ?? 'unnamed' });
          tuns.push(t);
          return t;
        },
        configureInterface: () => undefined,
        addRoute: () => Promise.resolve(),
        interfaceReset: { reset: async (name) => void resets.push(name), restoreIpv6: () => assert.fail('an IPv4 session') },
      },
    });
  });

  after(async () => {
    await daemon?.stop();
    radius?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the first Access-Request names the interface the session gets; the next session gets it back from the cache', async () => {
    const first = await TestClient.connect({ port, username: 'alice', password: 'alice-pw' });
    const ifname = daemon.sessions()[0]?.ifname;
    assert.ok(ifname, JSON.stringify({ sessions: daemon.sessions(), logs: logs.map((l) => l['msg']) }));
    assert.deepEqual(nasPortIds, [ifname], 'NAS-Port-Id in the first Access-Request');
    await first.close();
    await eventually(() => logs.some((l) => l['msg'] === 'interface-cached' && l['ifname'] === ifname), 5000, 'the interface to be cached');
    assert.equal(tuns[0]!.closed, false);
    assert.equal(tuns[0]!.parked, 1);
    assert.deepEqual(resets, [ifname]);

    const second = await TestClient.connect({ port, username: 'alice', password: 'alice-pw' });
    assert.deepEqual(nasPortIds, [ifname, ifname], 'the cached interface, named before authentication');
    assert.equal(daemon.sessions()[0]?.ifname, ifname);
    assert.equal(tuns.length, 1, 'no new interface');
    await second.close();
    await eventually(() => daemon.sessions().length === 0, 5000, 'the session to end');
  });

  it('shutdown deletes the cached interfaces', async () => {
    await eventually(() => logs.filter((l) => l['msg'] === 'interface-cached').length === 2, 5000, 'the interface cached again');
    await daemon.stop();
    assert.ok(tuns.every((t) => t.closed));
  });
});
