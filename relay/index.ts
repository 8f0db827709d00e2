/** The colloquy relay: `createRelay` for embedding, `signToken` for app backends. */
export { type AuthOptions, createVerifier, signToken, type TokenVerifier, type VerifiedToken } from './auth.ts'
export { CoreConnection, type CoreSocket, RelayCore, type RelayCoreOptions } from './core.ts'
export type { InboxEntry, InboxLastMessage } from './inbox.ts'
export { DEFAULT_LIMITS, type RelayLimits } from './limits.ts'
export { jsonLogger, type LogFields, type Logger, silentLogger } from './log.ts'
export { RelayMetrics } from './metrics.ts'
export { NO_QUOTAS, type QuotaLimits } from './quotas.ts'
export { createRelay, type Relay, type RelayOptions } from './server.ts'
