/**
 * Structured logs: one JSON line per event (pino), `msg` is the event name, session lines carry
 * `sid` and `username`.
 *
 * Written asynchronously: lines logged while a write is in flight go out together in the next one.
 * Synchronous writes cost a setup storm a syscall per line on the event loop, and when the reader
 * (journald, a pipe) falls behind, sonic-boom's synchronous mode sleeps 100 ms per EAGAIN with the
 * loop blocked: in a profile of `bench/run.js --only setup --quick` (node --cpu-prof), log writes
 * were 1.1 s of the daemon's 4.0 s busy time, 0.2 s after. What is still buffered is written
 * synchronously on exit (also after an uncaught error).
 */
import { pino, destination, stdTimeFunctions, type DestinationStream, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string = process.env['SSTPD_LOG_LEVEL'] ?? 'info'): Logger {
  return pino(
    {
      level,
      base: undefined,
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    asyncStdout(),
  );
}

/**
 * stdout through an asynchronous sonic-boom, flushed synchronously when the process exits. The
 * lines of one event-loop turn are handed over together (setImmediate): a setup storm logs a few
 * lines per session from many sockets' reads in the same turn, and sonic-boom alone writes the first
 * line of a burst by itself (a threadpool write and a wake-up of the reader per line).
 */
function asyncStdout(): DestinationStream {
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

/** A logger that drops everything (tests, --check). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/**
 * VyOS `log level` (accel-ppp `[log] level`) as a pino level: 0 nothing, 1 errors, 2 and warnings,
 * 3 and the main events, 4 all information, 5 and debug. pino has no step between 3 and 4, so
 * both are `info`. Absent: VyOS's default 3.
 */
export function pinoLevelOf(accelLevel: number | undefined): string {
  return ['silent', 'error', 'warn', 'info', 'info', 'debug'][accelLevel ?? 3] ?? 'debug';
}

/**
 * Applies the configured level, at start and on reload. Without `log level` the logger keeps the
 * level it was made with (`fallback`). $SSTPD_LOG_LEVEL is the operator's override for one run
 * (debugging), so with it set the file changes nothing. Session loggers take the level when they
 * are made: sessions already running keep theirs.
 */
export function applyLogLevel(log: Logger, accelLevel: number | undefined, fallback: string, env: NodeJS.ProcessEnv = process.env): void {
  const forced = env['SSTPD_LOG_LEVEL'];
  if (forced !== undefined && forced !== '') return;
  log.level = accelLevel === undefined ? fallback : pinoLevelOf(accelLevel);
}
