/**
 * Bounds the kernel's part of a tunnel's TLS stream (issue 14: ping RTT under a bulk flow). Every
 * packet of a session shares one TCP stream, so a ping waits behind every byte queued ahead of it,
 * and the kernel autotunes both socket buffers to MBs, which one iperf3 flow inside the tunnel
 * fills (measured: p99 30–250 ms). Two socket options bound them:
 * - TCP_NOTSENT_LOWAT: the unsent part of the send buffer stays small (in-flight bytes are not
 *   counted), so the socket pushes back early: our writer pauses the TUN reader and the backlog
 *   waits in the TUN rather than in the stream;
 * - SO_RCVBUF: a fixed receive buffer caps the window the peer may fill. When the receiving
 *   process is the bottleneck (TLS on a busy core), this is where the queue stood: up to 2 MB
 *   read-ahead, ms of delay for every packet behind it.
 * Linux only (the addon); where the options cannot be set the socket works as before.
 */
import type { Socket } from 'node:net';
import { envBytes } from '../common/env.js';
import { loadNative } from '../../native/index.js';

export interface TcpQueueBounds {
  /** TCP_NOTSENT_LOWAT in bytes; 0 = leave the kernel's default. */
  readonly notSentLowat: number;
  /** SO_RCVBUF in bytes (the kernel doubles it for overhead); 0 = leave autotuning on. */
  readonly rcvBuf: number;
}

/**
 * Unsent bytes: ~1 ms at 1 Gbit/s; below ~64 KiB the event loop, busy with TLS, refills the socket
 * too late. The receive buffer stays autotuned by default: a fixed one caps a session at
 * rcvBuf / RTT (256 KiB over a 50 ms Internet path: 42 Mbit/s), which no operator with remote users
 * wants; on a LAN-only deployment `SSTPD_RCVBUF=262144` trades that for latency under load (the
 * upload ping p99 fell to 0.2–0.4× with it on loopback, README Benchmarks).
 */
export const TUNNEL_TCP_BOUNDS: TcpQueueBounds = { notSentLowat: 128 * 1024, rcvBuf: 0 };

/** With the environment's overrides (SSTPD_NOTSENT_LOWAT, SSTPD_RCVBUF: bytes, 0 = off), for measurements. */
export function tunnelTcpBounds(): TcpQueueBounds {
  return {
    notSentLowat: envBytes('SSTPD_NOTSENT_LOWAT', TUNNEL_TCP_BOUNDS.notSentLowat),
    rcvBuf: envBytes('SSTPD_RCVBUF', TUNNEL_TCP_BOUNDS.rcvBuf),
  };
}

/** The file descriptor under a net or TLS socket (TLSWrap forwards it), or undefined before connect. */
export function socketFd(socket: Socket): number | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/**
 * Applies the bounds to a connected socket; what the kernel then reports, or undefined when nothing
 * was set (no fd yet, no addon, not TCP). Never throws: a socket without them still works.
 */
export function boundTcpQueues(socket: Socket, b: TcpQueueBounds = tunnelTcpBounds()): { notSentLowat: number; rcvBuf: number } | undefined {
  if (b.notSentLowat === 0 && b.rcvBuf === 0) return undefined;
  const fd = socketFd(socket);
  if (fd === undefined) return undefined;
  try {
    return loadNative().tuneTcp(fd, {
      ...(b.notSentLowat > 0 ? { notSentLowat: b.notSentLowat } : {}),
      ...(b.rcvBuf > 0 ? { rcvBuf: b.rcvBuf } : {}),
    });
  } catch {
    return undefined;
  }
}
