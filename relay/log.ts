/** A structured log line: an event name and fields. Never contains tokens or message contents. */
export type LogFields = Record<string, string | number | boolean | null | undefined>

/** The relay's logger. Plug in pino, winston or anything with these three methods. */
export interface Logger {
  info(event: string, fields?: LogFields): void
  warn(event: string, fields?: LogFields): void
  error(event: string, fields?: LogFields): void
}

/** Discards everything (the default for the library). */
export const silentLogger: Logger = { info() {}, warn() {}, error() {} }

/** One JSON object per line on a stream (what the CLI uses). */
export const jsonLogger = (write: (line: string) => void): Logger => {
  const log =
    (level: string) =>
    (event: string, fields: LogFields = {}) =>
      write(`${JSON.stringify({ time: new Date().toISOString(), level, event, ...fields })}\n`)
  return { info: log('info'), warn: log('warn'), error: log('error') }
}
