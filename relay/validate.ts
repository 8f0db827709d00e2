import { digest as sha256 } from 'lib0/hash/sha256'
import type * as Y from 'yjs'
import {
  CLIENTS_ROOT,
  type Deletion,
  decodeChanges,
  type NewItem,
  Refused,
  refuse,
} from '../src/crdt/update-decoder.ts'
import { participantSidFor } from '../src/ids.ts'
import { checkContent } from '../src/schema/content.ts'
import { checkAttributes, isPlainObject } from '../src/schema/json.ts'
import {
  type ConversationDocument,
  type EditRecord,
  editTarget,
  hiddenKey,
  type MessageRecord,
  type MetaFields,
  type ParticipantRecord,
  parseReactionKey,
  ROOTS,
  type Role,
} from '../src/schema/layout.ts'
import { LIMITS } from '../src/schema/limits.ts'
import { canManageParticipant, isUnjoinedCreator } from '../src/schema/permissions.ts'
import { ACCESS, checkEmoji, NOTIFICATION_LEVELS, ROLES, STATES, urlProblem } from '../src/schema/validate.ts'
import type { ClientIdQuota } from './client-ids.ts'
import type { LogFields } from './log.ts'

export {
  CLIENTS_ROOT,
  changesNothing,
  isNoopUpdate,
  type SleepingState,
  sleepingStateOf,
} from '../src/crdt/update-decoder.ts'

/** The identity bound to the relay's own clientIDs (stamps, bindings). */
export const RELAY_IDENTITY = '@relay'

/**
 * The outcome: accepted (with clientIDs to bind to the writer), or refused with a reason. A
 * refusal is `internal` when the validator itself failed (an exception, not a rule): that is a
 * relay bug to report to the operator, with the `error`, not the client's fault.
 */
export type Verdict =
  | { ok: true; newClients: number[] }
  | { ok: false; reason: string; internal: false }
  | { ok: false; reason: string; internal: true; error: unknown }

/**
 * The log fields of a failure inside the validator: the document, the writer, the update's size
 * and a short hash (to match it with a stored copy or a client's report), never its content.
 */
export const validatorErrorFields = (
  docName: string,
  identity: string,
  update: Uint8Array,
  error: unknown,
): LogFields => {
  const hash = [...sha256(update).subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join('')
  const e = error instanceof Error ? error : new Error(String(error))
  // Where it failed: the first frame of the stack (source paths and line numbers only).
  const at =
    e.stack
      ?.split('\n')
      .find((l) => l.trimStart().startsWith('at '))
      ?.trim() ?? null
  return { doc: docName, identity, updateSha256: hash, updateBytes: update.byteLength, error: e.name, at }
}

/** What a client is told when the validator failed on its update. */
export const VALIDATOR_ERROR_REASON =
  'the relay failed to validate this update (a relay error, reported to its operator)'

const META_KEYS = new Set<keyof MetaFields>([
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
])
const IMMUTABLE_META = new Set(['sid', 'createdBy', 'dateCreated'])
const EDIT_KEYS = new Set(['content', 'attributes', 'by', 'at'])
const KNOWN_ROOTS = new Set<string>([...Object.values(ROOTS), CLIENTS_ROOT])

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)
const isIndex = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
const shortString = (v: unknown, max: number): boolean => typeof v === 'string' && v.length <= max

// Records are stored and sent to every participant exactly as written: fields beyond the schema would
// carry any amount of data past the documented limits (a 32 KiB body, 16 KiB of attributes).
const keySet = (...keys: string[]): ReadonlySet<string> => new Set(keys)
const onlyKeys = (v: object, allowed: ReadonlySet<string>): boolean => Object.keys(v).every((k) => allowed.has(k))
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
const READ_FIELDS = keySet('epoch', 'index', 'at', 'm')
const META_FIELDS = keySet('v', 'at', 'by')
/** Longest map key: a reaction key is a message id, an identity and an emoji. */
const MAX_KEY_LENGTH = 1024

/** Content blocks as the schema has them, nothing more. */
const checkBlocks = (content: unknown, reason: string): void => {
  checkValue(() => checkContent(content), reason)
  for (const b of content as Array<{ type: string }>) if (!onlyKeys(b, BLOCK_FIELDS[b.type]!)) refuse(reason)
}

/**
 * Validates one update from `identity` against the live conversation document, before it is
 * applied or forwarded. Decodes the update (no speculative apply), resolves every item's map key
 * through its origin in the update or the live store, resolves every delete against the live
 * store, then checks authorship, ownership, membership and roles, read access, and the schema.
 * Cost: O(items in the update × log(structs per client)), never O(document).
 */
export const validateConversationUpdate = (
  conv: ConversationDocument,
  docKey: string,
  identity: string,
  update: Uint8Array,
  quota: ClientIdQuota | null = null,
): Verdict => {
  return verdictOf(() => {
    const { created, deletions, newClients } = decodeChanges(conv.doc, identity, update, KNOWN_ROOTS, true)
    checkSemantics(conv, docKey, identity, created, deletions)
    takeClientIds(quota, conv.doc, `conv/${docKey}`, identity, newClients, true)
    return newClients
  })
}

/**
 * Charges an accepted update's new clientIDs to the writer (last: a verdict that accepts is
 * applied, and only then do they count).
 */
const takeClientIds = (
  quota: ClientIdQuota | null,
  doc: Y.Doc,
  docName: string,
  identity: string,
  newClients: number[],
  bound: boolean,
): void => {
  const refusal = quota?.take(doc, docName, identity, newClients.length, bound) ?? null
  if (refusal !== null) refuse(refusal)
}

/** The fields of a user profile document (`user/<identity>`, root `profile`) and their checks. */
const PROFILE_FIELDS: Record<string, (v: unknown) => boolean> = {
  friendlyName: (v) => v === null || shortString(v, LIMITS.friendlyNameLength),
  photoUrl: (v) => v === null || urlProblem(v) === null,
  attributes: (v) => {
    try {
      checkAttributes(v, LIMITS.attributesBytes)
      return true
    } catch {
      return false
    }
  },
}

/**
 * Validates an update to the writer's own profile document: only the known fields, with their
 * types and sizes. (Who may write it at all — its owner — is checked before.)
 */
export const validateProfileUpdate = (
  doc: Y.Doc,
  identity: string,
  update: Uint8Array,
  quota: ClientIdQuota | null = null,
): Verdict =>
  verdictOf(() => {
    const { created, newClients } = decodeChanges(doc, identity, update, new Set(['profile']), false)
    for (const it of created) {
      const valid = PROFILE_FIELDS[it.key]
      if (!valid) refuse(`unknown profile field ${it.key}`)
      for (const v of it.values) if (!valid!(v)) refuse(`invalid ${it.key}`)
    }
    takeClientIds(quota, doc, `user/${identity}`, identity, newClients, false)
    return []
  })

const verdictOf = (run: () => number[]): Verdict => {
  try {
    return { ok: true, newClients: run() }
  } catch (error) {
    if (error instanceof Refused) return { ok: false, reason: error.message, internal: false }
    // Malformed input is refused as such while decoding: whatever is thrown past that is ours.
    return { ok: false, reason: VALIDATOR_ERROR_REASON, internal: true, error }
  }
}

const checkSemantics = (
  conv: ConversationDocument,
  docKey: string,
  identity: string,
  created: NewItem[],
  deletions: Deletion[],
): void => {
  const latest = (root: string): Map<string, unknown> => {
    const out = new Map<string, unknown>()
    for (const it of created)
      if (it.root === root && it.values.length > 0) out.set(it.key, it.values[it.values.length - 1])
    return out
  }
  const newMeta = latest(ROOTS.meta)
  const exists = conv.exists
  const creating = !exists && newMeta.has('sid')
  const createdBy = exists ? conv.get('createdBy', '') : creating ? metaValue(newMeta.get('createdBy')) : ''
  if (creating) {
    if (metaValue(newMeta.get('sid')) !== docKey) refuse('conversation sid does not match the document')
    if (createdBy !== identity) refuse('the creator must be the writer')
  }
  if (!exists && !creating && created.length + deletions.length > 0) refuse('the conversation does not exist')

  // Roles before this update: the creator counts as admin until they first take part (permissions.ts).
  const before = (who: string): ParticipantRecord | undefined => conv.participants.get(who)
  const unjoinedCreator = exists ? isUnjoinedCreator(conv, identity) : createdBy === identity
  const roleBefore = (): Role | null => before(identity)?.role ?? (unjoinedCreator ? 'admin' : null)
  const canManage = (targetRole: Role): boolean => {
    if (exists) return canManageParticipant(conv, identity, targetRole)
    return createdBy === identity
  }
  const isAdmin = (): boolean => roleBefore() === 'admin'
  const isModerator = (): boolean =>
    before(identity) !== undefined && (roleBefore() === 'admin' || roleBefore() === 'moderator')

  // Participants after this update, for what membership allows.
  const newParticipants = latest(ROOTS.participants)
  const deletedParticipants = new Set(deletions.filter((d) => d.root === ROOTS.participants).map((d) => d.key))
  const after = (who: string): ParticipantRecord | undefined => {
    const n = newParticipants.get(who) as ParticipantRecord | undefined
    if (n) return n
    if (deletedParticipants.has(who)) return undefined
    return before(who)
  }
  // An offline backlog may write and then leave in one update: membership before or after counts.
  const member = (): ParticipantRecord | undefined => before(identity) ?? after(identity)
  const newMessages = latest(ROOTS.messages)
  const messageAuthor = (id: string): string | undefined =>
    (newMessages.get(id) as MessageRecord | undefined)?.author ?? conv.messages.get(id)?.author

  for (const it of created) {
    const last = it.values[it.values.length - 1]
    const deletedOnArrival = it.values.length === 0
    if (it.key.length > MAX_KEY_LENGTH) refuse('key too long')
    switch (it.root) {
      case ROOTS.meta: {
        if (!META_KEYS.has(it.key as keyof MetaFields)) refuse(`unknown conversation field ${it.key}`)
        if (exists && IMMUTABLE_META.has(it.key)) refuse(`${it.key} cannot change`)
        if (!creating && !isAdmin()) refuse('only admins may change the conversation')
        for (const v of it.values) checkMeta(it.key, v, identity)
        break
      }
      case ROOTS.attributes: {
        if (!creating && !isAdmin()) refuse('only admins may change the conversation')
        for (const v of it.values) {
          try {
            checkAttributes({ v }, LIMITS.attributesBytes)
          } catch {
            refuse('attribute value too large or not JSON')
          }
        }
        break
      }
      case ROOTS.participants: {
        for (const v of it.values) checkParticipantRecord(docKey, it.key, v)
        if (deletedOnArrival) break
        const rec = last as ParticipantRecord
        const existing = before(it.key)
        if (!existing) {
          if (rec.addedBy !== identity) refuse('addedBy must be the writer')
          if (it.key === identity) {
            if (!unjoinedCreator) refuse('only the creator, before first taking part, may join without being added')
          } else if (!canManage(rec.role)) refuse('not allowed to add this participant')
        } else if (it.key === identity && !canManage(existing.role)) {
          if (rec.role !== existing.role || rec.access !== existing.access)
            refuse('participants may not change their own role or access')
        } else {
          if (!canManage(existing.role) || !canManage(rec.role)) refuse('not allowed to change this participant')
          if (rec.role !== existing.role && !isAdmin()) refuse('only admins may change roles')
        }
        break
      }
      case ROOTS.messages: {
        if (deletedOnArrival) break
        const me = member()
        if (!me) refuse('only participants may send')
        if (me!.access !== 'ReadWrite') refuse('read-only participants may not send')
        if (conv.get('state', 'active') === 'closed') refuse('the conversation is closed')
        if (conv.messages.has(it.key) || conv.stamps.has(it.key)) refuse('message ids cannot be reused')
        for (const v of it.values) checkMessage(it.key, v, identity, docKey)
        break
      }
      case ROOTS.edits: {
        if (deletedOnArrival) break
        const target = editTarget(it.key)
        if (it.key !== target) {
          // A moderator's hide: exactly `{ by, at }` under `<id>\nhidden`.
          if (it.key !== hiddenKey(target)) refuse('unknown edit key')
          if (!isModerator()) refuse('only moderators and admins may hide messages')
          if (messageAuthor(target) === undefined) refuse('hide of an unknown message')
          for (const v of it.values) {
            const h = v as { by?: unknown; at?: unknown }
            if (!isPlainObject(h) || h.by !== identity || !isNumber(h.at) || Object.keys(h).length !== 2)
              refuse('malformed hide')
          }
          break
        }
        const author = messageAuthor(it.key)
        // An edit racing the message's removal (another device, a moderator) is a harmless orphan:
        // the message is gone but its stamp stays. An edit of a message that never was is refused.
        const orphan = author === undefined && conv.stamps.has(it.key)
        if (author === undefined && !orphan) refuse('edit of an unknown message')
        for (const v of it.values) {
          const e = v as EditRecord
          if (!isPlainObject(e) || e.by !== identity || !isNumber(e.at)) refuse('malformed edit')
          for (const k of Object.keys(e)) if (!EDIT_KEYS.has(k)) refuse('malformed edit')
          if (e.content !== undefined) checkBlocks(e.content, 'invalid content')
          if (e.attributes !== undefined)
            checkValue(() => checkAttributes(e.attributes, LIMITS.attributesBytes), 'invalid attributes')
        }
        const me = member()
        if (orphan) {
          if (!me) refuse('only participants may edit')
          break
        }
        if (author !== identity) refuse('only the author may edit a message')
        if (me?.access !== 'ReadWrite') refuse('read-only participants may not edit')
        break
      }
      case ROOTS.reactions: {
        const { messageId, identity: who, emoji } = parseReactionKey(it.key)
        if (who !== identity) refuse('reactions are per person: not yours')
        checkValue(() => checkEmoji(emoji), 'invalid emoji')
        if (deletedOnArrival) break
        if (!member()) refuse('only participants may react')
        // A reaction racing the message's removal is a harmless orphan: no reason to refuse it.
        void messageId
        for (const v of it.values) if (!isNumber(v)) refuse('malformed reaction')
        break
      }
      case ROOTS.reads: {
        if (!it.key.startsWith(`${identity}\n`) || it.key.indexOf('\n', identity.length + 1) !== -1)
          refuse('read state is per person: not yours')
        if (deletedOnArrival) break
        if (!member()) refuse('only participants have read state')
        for (const v of it.values) {
          const s = v as { epoch?: unknown; index?: unknown; at?: unknown; m?: unknown }
          if (
            !isPlainObject(s) ||
            !onlyKeys(s, READ_FIELDS) ||
            !isIndex(s.epoch) ||
            !(s.index === null || isIndex(s.index)) ||
            !isNumber(s.at) ||
            !(s.m === null || shortString(s.m, 64))
          )
            refuse('malformed read state')
        }
        break
      }
      case ROOTS.prefs: {
        const field = it.key.startsWith(`${identity}\n`) ? it.key.slice(identity.length + 1) : null
        if (field !== 'notificationLevel' && field !== 'markedUnread') refuse('preferences are per person: not yours')
        if (deletedOnArrival) break
        if (!member()) refuse('only participants have preferences')
        for (const v of it.values) {
          if (field === 'notificationLevel' && !NOTIFICATION_LEVELS.includes(v as never))
            refuse('invalid notification level')
          if (field === 'markedUnread' && v !== true) refuse('invalid unread mark')
        }
        break
      }
      case ROOTS.stamps:
        refuse('only the relay stamps messages')
        break
      default:
        refuse(`${it.root} is written by the relay only`)
    }
  }

  // Attributes are checked per key above; their total must also stay within the limit.
  if (created.some((it) => it.root === ROOTS.attributes)) {
    const merged: Record<string, unknown> = conv.attributes.toJSON()
    for (const d of deletions) if (d.root === ROOTS.attributes) delete merged[d.key]
    for (const [k, v] of latest(ROOTS.attributes)) merged[k] = v
    checkValue(() => checkAttributes(merged, LIMITS.attributesBytes), 'attributes exceed their size limit')
  }
  const removedMessages = new Set(deletions.filter((d) => d.root === ROOTS.messages).map((d) => d.key))
  for (const d of deletions) {
    switch (d.root) {
      case ROOTS.meta:
        if (IMMUTABLE_META.has(d.key) && exists) refuse(`${d.key} cannot change`)
        if (!creating && !isAdmin()) refuse('only admins may change the conversation')
        break
      case ROOTS.attributes:
        if (!creating && !isAdmin()) refuse('only admins may change the conversation')
        break
      case ROOTS.participants: {
        const old = d.old as ParticipantRecord | null
        if (d.key === identity) break
        if (!canManage(old?.role ?? 'member')) refuse('not allowed to remove this participant')
        break
      }
      case ROOTS.messages: {
        const old = d.old as MessageRecord | null
        if (old?.author === identity && before(identity)) break
        if (!isModerator()) refuse('only the author or a moderator may remove a message')
        break
      }
      case ROOTS.edits: {
        const target = editTarget(d.key)
        if (d.key !== target) {
          // Unhiding is for moderators; the author may clear a hide only by removing the message.
          if (isModerator() || (messageAuthor(target) === identity && removedMessages.has(target))) break
          refuse('only moderators and admins may unhide messages')
        }
        if (messageAuthor(d.key) === identity || isModerator()) break
        // Replacing my own orphan edit (its message was removed meanwhile, its stamp stays) harms no one.
        const orphanEdit = messageAuthor(d.key) === undefined && conv.stamps.has(d.key)
        if (orphanEdit && (d.old as EditRecord | null)?.by === identity) break
        refuse('only the author or a moderator may remove an edit')
        break
      }
      case ROOTS.reactions: {
        const { messageId, identity: who } = parseReactionKey(d.key)
        // Removing a message takes its reactions with it: its author may clear them.
        if (who !== identity && !isModerator() && messageAuthor(messageId) !== identity)
          refuse('reactions are per person: not yours')
        break
      }
      case ROOTS.reads:
      case ROOTS.prefs:
        if (!d.key.startsWith(`${identity}\n`)) refuse('read state and preferences are per person: not yours')
        break
      default:
        refuse(`${d.root} is written by the relay only`)
    }
  }
}

const metaValue = (rec: unknown): unknown => (isPlainObject(rec) ? rec.v : undefined)

const checkValue = (fn: () => unknown, reason: string): void => {
  try {
    fn()
  } catch {
    refuse(reason)
  }
}

const checkMeta = (key: string, rec: unknown, identity: string): void => {
  if (!isPlainObject(rec) || !onlyKeys(rec, META_FIELDS) || rec.by !== identity || !isNumber(rec.at))
    refuse(`malformed ${key}`)
  const v = (rec as { v: unknown }).v
  const ok = (() => {
    switch (key as keyof MetaFields) {
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
  if (!ok) refuse(`invalid ${key}`)
}

const checkParticipantRecord = (docKey: string, key: string, v: unknown): void => {
  const r = v as ParticipantRecord
  if (!isPlainObject(r) || !onlyKeys(r, PARTICIPANT_FIELDS)) refuse('malformed participant')
  if (r.sid !== participantSidFor(docKey, key)) refuse('participant sid does not match')
  if (!ROLES.includes(r.role) || !ACCESS.includes(r.access)) refuse('invalid role or access')
  if (!isNumber(r.dateCreated) || !isNumber(r.dateUpdated) || !shortString(r.addedBy, LIMITS.identityLength))
    refuse('malformed participant')
  if (!shortString(r.membership, 64)) refuse('malformed participant')
  if (r.type === 'chat') {
    if (r.identity !== key) refuse('participant identity does not match its key')
    if (r.address !== null || r.proxyAddress !== null) refuse('malformed participant address')
  } else if (r.type === 'sms' || r.type === 'whatsapp' || r.type === 'email') {
    if (r.identity !== null || key !== `${r.type}:${r.address}` || !shortString(r.proxyAddress, LIMITS.identityLength))
      refuse('malformed participant address')
  } else refuse('invalid participant type')
  checkValue(() => checkAttributes(r.attributes, LIMITS.attributesBytes), 'invalid participant attributes')
}

const checkMessage = (key: string, v: unknown, identity: string, docKey: string): void => {
  const m = v as MessageRecord
  if (!isPlainObject(m) || !onlyKeys(m, MESSAGE_FIELDS) || m.id !== key) refuse('malformed message')
  if (m.author !== identity) refuse('a message must be written by its author')
  // Apps look senders up by participant sid (Twilio's `message.participantSid`): it must be the author's.
  if (!(m.participantSid === null || m.participantSid === participantSidFor(docKey, identity)))
    refuse("participantSid must be the author's")
  if (!(m.replyTo === null || typeof m.replyTo === 'string') || !isNumber(m.createdAt)) refuse('malformed message')
  checkBlocks(m.content, 'invalid message content')
  checkValue(() => checkAttributes(m.attributes, LIMITS.attributesBytes), 'invalid message attributes')
}
