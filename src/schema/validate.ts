import { invalidArgument } from '../errors.ts'
import type { Access, ConversationStateName, Role } from './layout.ts'
import { LIMITS } from './limits.ts'

// biome-ignore lint/suspicious/noControlCharactersInRegex: identities must not contain control characters
const CONTROL = /[\u0000-\u001f\u007f]/

/** Whether `identity` is one {@link checkIdentity} accepts, without building an error. */
export const isIdentity = (identity: unknown): identity is string =>
  typeof identity === 'string' &&
  identity.length <= LIMITS.identityLength &&
  identity.trim().length > 0 &&
  !CONTROL.test(identity)

/** A user identity: 1–256 characters, no control characters. */
export const checkIdentity = (identity: unknown, what = 'identity'): string => {
  if (typeof identity !== 'string' || identity.trim().length === 0)
    throw invalidArgument(`${what} must be a non-empty string`)
  if (identity.length > LIMITS.identityLength)
    throw invalidArgument(`${what} is longer than ${LIMITS.identityLength} characters`)
  if (CONTROL.test(identity)) throw invalidArgument(`${what} must not contain control characters`)
  return identity
}

/** A name that may be null (friendly name, subject, unique name). */
export const checkOptionalName = (value: unknown, what: string, max: number): string | null => {
  if (value === null || value === undefined) return null
  if (typeof value !== 'string') throw invalidArgument(`${what} must be a string or null`)
  if (value.length > max) throw invalidArgument(`${what} is longer than ${max} characters`)
  return value
}

export const checkUniqueName = (value: unknown): string | null => {
  const name = checkOptionalName(value, 'uniqueName', LIMITS.uniqueNameLength)
  if (name !== null && name.trim().length === 0) throw invalidArgument('uniqueName must not be blank')
  if (name !== null && CONTROL.test(name)) throw invalidArgument('uniqueName must not contain control characters')
  return name
}

/** A message index: a non-negative safe integer. */
export const checkIndex = (value: unknown, what = 'index'): number => {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)
    throw invalidArgument(`${what} must be a non-negative integer`)
  return value
}

export const checkPageSize = (value: unknown): number => {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > LIMITS.maxPageSize)
    throw invalidArgument(`pageSize must be an integer from 1 to ${LIMITS.maxPageSize}`)
  return value
}

export const checkCount = (value: unknown, max: number, what = 'count'): number => {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
    throw invalidArgument(`Invalid ${what}: must be a positive integer`)
  if (value > max) throw invalidArgument(`Invalid ${what}: cannot load more than ${max} items at once`)
  return value
}

/** Longest delay a timer can take (setTimeout's 32-bit limit, about 24.8 days). */
const MAX_DELAY_MS = 2 ** 31 - 1

/** A duration option in ms: a finite number from 0 to about 24.8 days, or the default when absent. */
export const checkDuration = (value: unknown, fallback: number, what: string): number => {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_DELAY_MS)
    throw invalidArgument(`${what} must be a number of milliseconds from 0 to ${MAX_DELAY_MS}`)
  return value
}

export const checkOneOf = <T extends string>(value: unknown, allowed: readonly T[], what: string): T => {
  if (typeof value !== 'string' || !allowed.includes(value as T))
    throw invalidArgument(`${what} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}`)
  return value as T
}

export const ROLES: readonly Role[] = ['admin', 'moderator', 'member']
export const ACCESS: readonly Access[] = ['Read', 'ReadWrite']
export const STATES: readonly ConversationStateName[] = ['active', 'inactive', 'closed']

/** Notification level for me in one conversation (TalkJS's MentionsOnly is `mentions`). */
export type NotificationLevel = 'default' | 'muted' | 'mentions'
export const NOTIFICATION_LEVELS: readonly NotificationLevel[] = ['default', 'muted', 'mentions']

/**
 * Where a relay-hosted blob lives, relative to the relay's origin: `/blobs/<SHA-256 in hex>`.
 * Renderers resolve it against the relay's https origin.
 */
export const BLOB_PATH = /^\/blobs\/[0-9a-f]{64}$/

// biome-ignore lint/suspicious/noControlCharactersInRegex: whitespace and C0/C1 controls are what the check refuses
const URL_WHITESPACE_OR_CONTROL = /[\u0000-\u0020\u007f-\u009f\u00a0\u1680\u2000-\u200f\u2028-\u202f\u205f\u3000\ufeff]/
const HTTP_URL = /^https?:\/\/[^/?#\\]/i

/**
 * Why `value` is not a URL colloquy stores (photo, file), or null when it is one. The one check
 * behind every URL field, on the client and in the relay's validator.
 *
 * Accepted: absolute `http:` and `https:` URLs with a host, and the relay's own blob paths
 * (`BLOB_PATH`). Everything else is refused rather than cleaned: browsers strip leading whitespace
 * and controls and drop tabs and newlines anywhere in a URL, so ` javascript:` and `java\tscript:`
 * would run as scripts; a URL that carries them is refused whole, so the scheme read here is the
 * scheme every renderer reads.
 */
export const urlProblem = (value: unknown): string | null => {
  if (typeof value !== 'string' || value.length === 0) return 'must be a non-empty string'
  if (value.length > LIMITS.urlLength) return `is longer than ${LIMITS.urlLength} characters`
  if (BLOB_PATH.test(value)) return null
  if (URL_WHITESPACE_OR_CONTROL.test(value))
    return 'must not contain whitespace or control characters (percent-encode them)'
  if (!HTTP_URL.test(value)) return 'must be an absolute http: or https: URL (or a /blobs/<sha256> path of the relay)'
  if (!URL.canParse(value)) return 'is not a valid URL'
  return null
}

/** A URL field that must be set: see `urlProblem` for what is accepted. */
export const checkRequiredUrl = (value: unknown, what: string): string => {
  const problem = urlProblem(value)
  if (problem !== null) throw invalidArgument(`${what} ${problem}`)
  return value as string
}

/** A URL field that may be null (photo URLs): see `urlProblem` for what is accepted. */
export const checkUrl = (value: unknown, what: string): string | null => {
  if (value === null || value === undefined) return null
  return checkRequiredUrl(value, what)
}

export const checkEmoji = (value: unknown): string => {
  if (typeof value !== 'string' || value.length === 0 || value.length > LIMITS.emojiLength)
    throw invalidArgument(`emoji must be 1 to ${LIMITS.emojiLength} characters`)
  if (CONTROL.test(value)) throw invalidArgument('emoji must not contain control characters')
  return value
}

/** Welcome messages: at most LIMITS.welcomeMessages non-empty strings. Returns a copy. */
export const checkWelcomeMessages = (messages: unknown): string[] => {
  if (!Array.isArray(messages) || messages.length > LIMITS.welcomeMessages)
    throw invalidArgument(`welcomeMessages must be an array of at most ${LIMITS.welcomeMessages} strings`)
  for (const m of messages) {
    if (typeof m !== 'string' || m.length === 0 || m.length > LIMITS.messageBodyBytes)
      throw invalidArgument('each welcome message must be a non-empty string')
  }
  return [...messages]
}
