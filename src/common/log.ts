/**
 * Structured logs: one JSON line per event (pino), `msg` is the event name, session lines carry
 * `sid` and `username`. The daemon's destination is common/io/log-stdout.ts.
 */
import { pino, stdTimeFunctions, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** The daemon's logger, writing to `dest` (common/io/log-stdout.ts: stdout, asynchronously). */
export function createLogger(dest: DestinationStream, level: string = process.env['SSTPD_LOG_LEVEL'] ?? 'info'): Logger {
  return pino(
    {
      level,
      base: undefined,
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    dest,
  );
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
