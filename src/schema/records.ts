import { participantSidFor } from '../ids.ts'
import { checkContent } from './content.ts'
import { checkAttributes, isPlainObject } from './json.ts'
import type { MessageRecord, MetaFields, ParticipantRecord } from './layout.ts'
import { LIMITS } from './limits.ts'
import { ACCESS, checkEmoji, NOTIFICATION_LEVELS, ROLES, STATES, urlProblem } from './validate.ts'

/**
 * The shapes of the records a conversation and a profile hold: each check answers with what is
 * wrong (the reason a writer is refused with) or null. Records are stored and sent to every
 * participant exactly as written, so fields beyond the schema would carry any amount of data past
 * the documented limits (a 32 KiB body, 16 KiB of attributes): every field set is strict. Records
 * that name their writer (`by`, `author`) must name the `writer`. Who may write them at all is the
 * policy's (`src/policy/rules.ts`).
 */

/** Longest map key: a reaction key is a message id, an identity and an emoji. */
export const MAX_KEY_LENGTH = 1024

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)
const isIndex = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
const shortString = (v: unknown, max: number): boolean => typeof v === 'string' && v.length <= max
const keySet = (...keys: string[]): ReadonlySet<string> => new Set(keys)
const onlyKeys = (v: object, allowed: ReadonlySet<string>): boolean => Object.keys(v).every((k) => allowed.has(k))
const throwsNot = (fn: () => unknown): boolean => {
  try {
    fn()
    return true
  } catch {
    return false
  }
}

const META_KEYS = keySet(
  'sid',
  'createdBy',
  'dateCreated',
  'friendlyName',
  'uniqueName',
  'subject',
  'photoUrl',
  'welcomeMessages',
  'state',
  'deleted',
  'updated',
)
const META_FIELDS = keySet('v', 'at', 'by')
const MESSAGE_FIELDS = keySet('id', 'author', 'participantSid', 'content', 'attributes', 'replyTo', 'createdAt')
const BLOCK_FIELDS: Record<string, ReadonlySet<string>> = {
  text: keySet('type', 'text'),
  location: keySet('type', 'latitude', 'longitude', 'label'),
  file: keySet('type', 'subtype', 'url', 'filename', 'contentType', 'size', 'width', 'height', 'duration'),
}
const PARTICIPANT_FIELDS = keySet(
  'sid',
  'identity',
  'type',
  'address',
  'proxyAddress',
  'attributes',
  'role',
  'access',
  'dateCreated',
  'dateUpdated',
  'addedBy',
  'membership',
)
const EDIT_FIELDS = keySet('content', 'attributes', 'by', 'at')
const READ_FIELDS = keySet('epoch', 'index', 'at', 'm')

/** Content blocks as the schema has them, nothing more. */
const blocksValid = (content: unknown): boolean =>
  throwsNot(() => checkContent(content)) &&
  (content as Array<{ type: string }>).every((b) => onlyKeys(b, BLOCK_FIELDS[b.type]!))

const attributesValid = (v: unknown): boolean => throwsNot(() => checkAttributes(v, LIMITS.attributesBytes))

// ------------------------------------------------------------------ keys

/** Whether `key` names a conversation field (`meta`). */
export const isMetaField = (key: string): key is keyof MetaFields => META_KEYS.has(key)

/** The owner of a per-person key (`<identity>\n…`: reads and preferences), or null. */
export const personalKeyOwner = (key: string): { owner: string; rest: string } | null => {
  const nl = key.indexOf('\n')
  return nl === -1 ? null : { owner: key.slice(0, nl), rest: key.slice(nl + 1) }
}

/** The owner of a read slot key (`<identity>\n<slot>`, one newline), or null when it is not one. */
export const readSlotOwner = (key: string): string | null => {
  const k = personalKeyOwner(key)
  return k !== null && !k.rest.includes('\n') ? k.owner : null
}

// ------------------------------------------------------------------ conversation records

/** A `meta` register `{ v, at, by }` written by `writer`, its value typed and within limits. */
export const metaRecordProblem = (key: keyof MetaFields, rec: unknown, writer: string): string | null => {
  if (!isPlainObject(rec) || !onlyKeys(rec, META_FIELDS) || rec.by !== writer || !isNumber(rec.at))
    return `malformed ${key}`
  const v = (rec as { v: unknown }).v
  const ok = (() => {
    switch (key) {
      case 'sid':
      case 'createdBy':
        return shortString(v, LIMITS.identityLength) && (v as string).length > 0
      case 'dateCreated':
        return isNumber(v)
      case 'friendlyName':
      case 'subject':
        return v === null || shortString(v, LIMITS.friendlyNameLength)
      case 'uniqueName':
        return v === null || shortString(v, LIMITS.uniqueNameLength)
      case 'photoUrl':
        return v === null || urlProblem(v) === null
      case 'welcomeMessages':
        return (
          Array.isArray(v) &&
          v.length <= LIMITS.welcomeMessages &&
          v.every((m) => typeof m === 'string' && m.length <= LIMITS.messageBodyBytes)
        )
      case 'state':
        return STATES.includes(v as never)
      case 'deleted':
      case 'updated':
        return v === true
    }
  })()
  return ok ? null : `invalid ${key}`
}

/** One value of the `attributes` root: JSON within the size limit. */
export const attributeValueProblem = (v: unknown): string | null =>
  attributesValid({ v }) ? null : 'attribute value too large or not JSON'

/** All of a conversation's attributes together: within the size limit. */
export const attributesProblem = (merged: Record<string, unknown>): string | null =>
  attributesValid(merged) ? null : 'attributes exceed their size limit'

/**
 * A participant record under `key` in conversation `conversationSid`: its sid derived from both,
 * a known role, access and type, its identity or address matching the key.
 */
export const participantRecordProblem = (conversationSid: string, key: string, v: unknown): string | null => {
  const r = v as ParticipantRecord
  if (!isPlainObject(r) || !onlyKeys(r, PARTICIPANT_FIELDS)) return 'malformed participant'
  if (r.sid !== participantSidFor(conversationSid, key)) return 'participant sid does not match'
  if (!ROLES.includes(r.role) || !ACCESS.includes(r.access)) return 'invalid role or access'
  if (!isNumber(r.dateCreated) || !isNumber(r.dateUpdated) || !shortString(r.addedBy, LIMITS.identityLength))
    return 'malformed participant'
  if (!shortString(r.membership, 64)) return 'malformed participant'
  if (r.type === 'chat') {
    if (r.identity !== key) return 'participant identity does not match its key'
    if (r.address !== null || r.proxyAddress !== null) return 'malformed participant address'
  } else if (r.type === 'sms' || r.type === 'whatsapp' || r.type === 'email') {
    if (r.identity !== null || key !== `${r.type}:${r.address}` || !shortString(r.proxyAddress, LIMITS.identityLength))
      return 'malformed participant address'
  } else return 'invalid participant type'
  return attributesValid(r.attributes) ? null : 'invalid participant attributes'
}

/**
 * A message record under `key`, written by `writer` as its author. Apps look senders up by
 * participant sid (Twilio's `message.participantSid`): it must be the author's own, or null.
 */
export const messageRecordProblem = (
  conversationSid: string,
  key: string,
  v: unknown,
  writer: string,
): string | null => {
  const m = v as MessageRecord
  if (!isPlainObject(m) || !onlyKeys(m, MESSAGE_FIELDS) || m.id !== key) return 'malformed message'
  if (m.author !== writer) return 'a message must be written by its author'
  if (!(m.participantSid === null || m.participantSid === participantSidFor(conversationSid, writer)))
    return "participantSid must be the author's"
  if (!(m.replyTo === null || typeof m.replyTo === 'string') || !isNumber(m.createdAt)) return 'malformed message'
  if (!blocksValid(m.content)) return 'invalid message content'
  return attributesValid(m.attributes) ? null : 'invalid message attributes'
}

/** An edit `{ content?, attributes?, by, at }` written by `writer`. */
export const editRecordProblem = (v: unknown, writer: string): string | null => {
  const e = v as { by?: unknown; at?: unknown; content?: unknown; attributes?: unknown }
  if (!isPlainObject(e) || e.by !== writer || !isNumber(e.at) || !onlyKeys(e, EDIT_FIELDS)) return 'malformed edit'
  if (e.content !== undefined && !blocksValid(e.content)) return 'invalid content'
  if (e.attributes !== undefined && !attributesValid(e.attributes)) return 'invalid attributes'
  return null
}

/** A hide: exactly `{ by, at }`, written by `writer`; it carries no content. */
export const hideRecordProblem = (v: unknown, writer: string): string | null => {
  const h = v as { by?: unknown; at?: unknown }
  return isPlainObject(h) && h.by === writer && isNumber(h.at) && Object.keys(h).length === 2 ? null : 'malformed hide'
}

/** A reaction's emoji (from its key). */
export const emojiProblem = (emoji: string): string | null =>
  throwsNot(() => checkEmoji(emoji)) ? null : 'invalid emoji'

/** A reaction's value: when it was made. */
export const reactionValueProblem = (v: unknown): string | null => (isNumber(v) ? null : 'malformed reaction')

/** A read slot `{ epoch, index, at, m }`. */
export const readSlotProblem = (v: unknown): string | null => {
  const s = v as { epoch?: unknown; index?: unknown; at?: unknown; m?: unknown }
  const ok =
    isPlainObject(s) &&
    onlyKeys(s, READ_FIELDS) &&
    isIndex(s.epoch) &&
    (s.index === null || isIndex(s.index)) &&
    isNumber(s.at) &&
    (s.m === null || shortString(s.m, 64))
  return ok ? null : 'malformed read state'
}

/** A preference's value (`notificationLevel` one of the levels, `markedUnread` true). */
export const preferenceValueProblem = (field: string, v: unknown): string | null => {
  if (field === 'notificationLevel' && !NOTIFICATION_LEVELS.includes(v as never)) return 'invalid notification level'
  if (field === 'markedUnread' && v !== true) return 'invalid unread mark'
  return null
}

// ------------------------------------------------------------------ profiles

/** The fields of a user profile document (`user/<identity>`, root `profile`) and their checks. */
const PROFILE_FIELDS: Record<string, (v: unknown) => boolean> = {
  friendlyName: (v) => v === null || shortString(v, LIMITS.friendlyNameLength),
  photoUrl: (v) => v === null || urlProblem(v) === null,
  attributes: attributesValid,
}

/** Values written to a profile field: only the known fields, with their types and sizes. */
export const profileFieldProblem = (key: string, values: readonly unknown[]): string | null => {
  const valid = PROFILE_FIELDS[key]
  if (!valid) return `unknown profile field ${key}`
  return values.every(valid) ? null : `invalid ${key}`
}
