/**
 * Where the daemon's log lines go: stdout, written asynchronously. Synchronous writes cost a setup
 * storm a syscall per line on the event loop, and when the reader (journald, a pipe) falls behind,
 * sonic-boom's synchronous mode sleeps 100 ms per EAGAIN with the loop blocked: in a profile of
 * `bench/run.js --only setup --quick` (node --cpu-prof), log writes were 1.1 s of the daemon's 4.0 s
 * busy time, 0.2 s after. What is still buffered is written synchronously on exit (also after an
 * uncaught error).
 */
import { destination, type DestinationStream } from 'pino';

/**
 * stdout through an asynchronous sonic-boom, flushed synchronously when the process exits. The
 * lines of one event-loop turn are handed over together (setImmediate): a setup storm logs a few
 * lines per session from many sockets' reads in the same turn, and sonic-boom alone writes the first
 * line of a burst by itself (a threadpool write and a wake-up of the reader per line).
 */
export function asyncStdout(): DestinationStream {
  const dest = destination({ dest: 1, sync: false });
  const turn = new TurnBatch((text) => void dest.write(text));
  process.once('exit', () => {
    try {
      turn.flush();
      dest.flushSync();
    } catch {
      // stdout is gone (closed pipe): nothing left to write to.
    }
  });
  return turn;
}

/** Collects what is written in one event-loop turn and passes it on as one string. */
export class TurnBatch implements DestinationStream {
  private pending: string[] = [];
  private scheduled = false;

  constructor(private readonly out: (text: string) => void) {}

  write(line: string): void {
    this.pending.push(line);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.flushTurn);
  }

  /** Passes on what is pending now (at exit, where no immediate runs any more; pino's `flush`). */
  flush(done?: () => void): void {
    if (this.pending.length > 0) {
      const lines = this.pending;
      this.pending = [];
      this.out(lines.length === 1 ? lines[0]! : lines.join(''));
    }
    done?.();
  }

  private readonly flushTurn = (): void => {
    this.scheduled = false;
    this.flush();
  };
}

