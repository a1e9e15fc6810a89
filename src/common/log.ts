/**
 * Structured logs: one JSON line per event (pino), `msg` is the event name, session lines carry
 * `sid` and `username`. Written synchronously so a crash or exit never loses the last lines.
 */
import { pino, destination, stdTimeFunctions, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string = process.env['SSTPD_LOG_LEVEL'] ?? 'info'): Logger {
  return pino(
    {
      level,
      base: undefined,
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination({ dest: 1, sync: true }),
  );
}

/** A logger that drops everything (tests, --check). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
