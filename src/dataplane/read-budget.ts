/**
 * Bounds what one socket hands us per event-loop turn (issue 14: ping RTT under a bulk flow).
 *
 * libuv reads a readable stream up to 32 times, 64 KiB each, before it returns to the loop. A TLS
 * stream at full speed therefore delivers up to 2 MB in one turn, and every other file descriptor
 * of the process waits until all of it is decrypted and written to the TUN: the ping in the other
 * direction, a control packet, the TUN's own batch. Measured on loopback with one bulk flow, the
 * idle direction of a ping waited as long as the loaded one (1–2 ms p50 each way).
 *
 * Past `bytesPerTurn` in one turn the stream pauses (Node stops the handle once its small buffer
 * fills) and resumes from setImmediate, after the poll phase has served the other descriptors.
 */
import type { Readable } from 'node:stream';
import { envBytes } from '../common/env.js';

/** About 0.2–0.3 ms of TLS decryption and TUN writes on this machine's cores. */
export const READ_BYTES_PER_TURN = 256 * 1024;

/** An environment override (SSTPD_READ_BUDGET: bytes, 0 = unbounded), for A/B measurements. */
export function readBytesPerTurn(): number {
  return envBytes('SSTPD_READ_BUDGET', READ_BYTES_PER_TURN);
}

/**
 * Returns the function the stream's 'data' handler calls with each chunk's length. A stream
 * destroyed while it yields stays so; the owner must not pause the stream itself (our resume would
 * undo that), which neither the server's sessions nor our client do.
 */
export function readBudget(stream: Readable, bytesPerTurn = readBytesPerTurn()): (bytes: number) => void {
  if (bytesPerTurn === 0) return () => undefined;
  let used = 0;
  let yielding = false;
  const resume = (): void => {
    yielding = false;
    used = 0;
    if (!stream.destroyed && stream.isPaused()) stream.resume();
  };
  return (bytes) => {
    used += bytes;
    if (used < bytesPerTurn || yielding) return;
    yielding = true;
    stream.pause();
    setImmediate(resume);
  };
}
