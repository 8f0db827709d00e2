import type { AuthOptions } from './auth.ts'
import type { RelayLimits } from './limits.ts'
import { RELAY_VERSION } from './version.ts'

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

/** What the start-up line says about a relay's configuration (never the secret or key). */
export const startupSummary = (
  options: { auth: AuthOptions; storage?: unknown; dataPath?: string; idleUnloadMs?: number; sleepAfterMs?: number },
  limits: RelayLimits,
  heartbeatMs: number,
): LogFields => ({
  version: RELAY_VERSION,
  node: process.version,
  store: options.storage ? 'storage adapter' : (options.dataPath ?? ':memory:'),
  auth: options.auth.publicKey ? `public key (${options.auth.algorithm ?? 'ES256'})` : 'shared secret (HS256)',
  issuer: options.auth.issuer ?? null,
  audience: options.auth.audience ?? null,
  ...limits,
  heartbeatMs,
  idleUnloadMs: options.idleUnloadMs ?? 30_000,
  sleepAfterMs: options.sleepAfterMs ?? 30_000,
})
