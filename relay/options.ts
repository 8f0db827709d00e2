import { invalidArgument } from '../src/errors.ts'
import { checkFunction, checkMethods, checkOptions, type OptionKeys } from '../src/options.ts'
import type { AuthOptions } from './auth.ts'
import type { RelayLimits } from './limits.ts'
import { DEFAULT_QUOTAS } from './quotas.ts'
import type { RelayOptions } from './server.ts'

const RELAY_OPTIONS: OptionKeys<RelayOptions> = {
  auth: true,
  storage: true,
  dataPath: true,
  limits: true,
  logger: true,
  idleUnloadMs: true,
  sleepAfterMs: true,
  heartbeatMs: true,
  now: true,
  stampStatePath: true,
  stampKey: true,
}
const AUTH_OPTIONS: OptionKeys<AuthOptions> = {
  secret: true,
  publicKey: true,
  algorithm: true,
  issuer: true,
  audience: true,
  clockToleranceSeconds: true,
}
const LIMIT_KEYS: OptionKeys<RelayLimits> = {
  maxFrameBytes: true,
  maxPreAuthFrames: true,
  maxPreAuthBytes: true,
  maxDocumentsPerConnection: true,
  maxConnectionsPerIdentity: true,
  framesPerSecond: true,
  frameBurst: true,
  clientIdsPerHour: true,
  maxClientIdsPerIdentity: true,
  authTimeoutMs: true,
  maxDocumentsPerIdentity: true,
  conversationsPerHour: true,
  participantsAddedPerHour: true,
  addedByOthersPerHour: true,
}

const QUOTA_KEYS: ReadonlySet<string> = new Set(Object.keys(DEFAULT_QUOTAS))

const AUTH_HINT = "createRelay needs `auth`: { secret: '<at least 32 bytes>' } or { publicKey: '<SPKI PEM>' }"

/**
 * The shape of `createRelay`'s options, checked before anything is opened: an object with known
 * keys only (nested `auth` and `limits` too), `auth` present, limits positive integers, hooks of the
 * right kind. Values with their own rules (durations, the secret's length) are checked where used.
 */
export const checkRelayOptions = (options: RelayOptions): RelayOptions => {
  if (typeof options !== 'object' || options === null) throw invalidArgument(AUTH_HINT)
  checkOptions(options, RELAY_OPTIONS, 'createRelay')
  if (options.auth === undefined) throw invalidArgument(AUTH_HINT)
  checkOptions(options.auth, AUTH_OPTIONS, 'createRelay auth')
  for (const key of ['secret', 'publicKey', 'issuer', 'audience'] as const) {
    const v = options.auth[key]
    if (v !== undefined && typeof v !== 'string') throw invalidArgument(`createRelay auth: ${key} must be a string`)
  }
  if (options.auth.secret === undefined && options.auth.publicKey === undefined) throw invalidArgument(AUTH_HINT)
  for (const [key, value] of Object.entries(checkOptions(options.limits, LIMIT_KEYS, 'createRelay limits'))) {
    // Quotas take 0 and Infinity too; their values are checked by the quotas themselves (relay/quotas.ts).
    if (QUOTA_KEYS.has(key)) continue
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1)
      throw invalidArgument(`createRelay limits: ${key} must be a positive integer`)
  }
  if (options.storage !== undefined)
    checkMethods(options.storage, ['load', 'append', 'compact', 'list', 'remove', 'close'], 'createRelay storage')
  if (options.dataPath !== undefined && (typeof options.dataPath !== 'string' || options.dataPath.length === 0))
    throw invalidArgument('createRelay: dataPath must be a file path (or ":memory:")')
  if (options.logger !== undefined) checkMethods(options.logger, ['info', 'warn', 'error'], 'createRelay logger')
  if (options.now !== undefined) checkFunction(options.now, 'createRelay: now')
  return options
}
