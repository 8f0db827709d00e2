import * as Y from 'yjs'
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
import { canManageParticipant } from '../src/schema/permissions.ts'
import { ACCESS, checkEmoji, NOTIFICATION_LEVELS, ROLES, STATES } from '../src/schema/validate.ts'

/** Root holding clientID → identity bindings; written by the relay only. */
export const CLIENTS_ROOT = 'clients'
/**
 * Root holding, per bound clientID, the relay's MAC of that binding (see relay/stamp-mac.ts);
 * written by the relay only, beside `clients`, whose values stay plain identities.
 */
export const SEALS_ROOT = 'seals'
/** The identity bound to the relay's own clientIDs (stamps, bindings). */
export const RELAY_IDENTITY = '@relay'

/** The outcome: accepted (with clientIDs to bind to the writer), or refused with a reason. */
export type Verdict = { ok: true; newClients: number[] } | { ok: false; reason: string }

interface NewItem {
  client: number
  clock: number
  length: number
  root: string
  key: string
  /** Values written (empty when the item arrived already deleted). */
  values: unknown[]
}

interface Deletion {
  root: string
  key: string
  /** The value that is being deleted (null when it arrived already deleted). */
  old: unknown
}

class Refused extends Error {}
const refuse = (reason: string): never => {
  throw new Refused(reason)
}

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
const KNOWN_ROOTS = new Set<string>([...Object.values(ROOTS), CLIENTS_ROOT, SEALS_ROOT])
/**
 * New clientIDs one update may bind. An honest update brings one per session of the device that
 * wrote since its last sync; each binding is stored forever and sent to every participant.
 */
const MAX_NEW_CLIENTS = 128

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
  stampedFor: (id: string, author: string) => boolean = () => false,
): Verdict => {
  return verdictOf(() => {
    const { created, deletions, newClients } = decodeChanges(conv.doc, identity, update, KNOWN_ROOTS, true)
    checkSemantics(conv, docKey, identity, created, deletions, stampedFor)
    return newClients
  })
}

/** The fields of a user profile document (`user/<identity>`, root `profile`) and their checks. */
const PROFILE_FIELDS: Record<string, (v: unknown) => boolean> = {
  friendlyName: (v) => v === null || shortString(v, LIMITS.friendlyNameLength),
  photoUrl: (v) => v === null || shortString(v, LIMITS.urlLength),
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
export const validateProfileUpdate = (doc: Y.Doc, identity: string, update: Uint8Array): Verdict =>
  verdictOf(() => {
    const { created } = decodeChanges(doc, identity, update, new Set(['profile']), false)
    for (const it of created) {
      const valid = PROFILE_FIELDS[it.key]
      if (!valid) refuse(`unknown profile field ${it.key}`)
      for (const v of it.values) if (!valid!(v)) refuse(`invalid ${it.key}`)
    }
    return []
  })

const verdictOf = (run: () => number[]): Verdict => {
  try {
    return { ok: true, newClients: run() }
  } catch (error) {
    if (error instanceof Refused) return { ok: false, reason: error.message }
    return { ok: false, reason: 'malformed update' }
  }
}

/**
 * In `list`, sorted by clock with spans that do not overlap (one client's structs, items or delete
 * ranges), the element whose span `[start, start + length)` holds `clock`; a binary search.
 */
const spanAt = <T>(
  list: ReadonlyArray<T>,
  clock: number,
  startOf: (t: T) => number,
  lengthOf: (t: T) => number,
): T | undefined => {
  let lo = 0
  let hi = list.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    const t = list[mid]!
    const start = startOf(t)
    if (clock < start) hi = mid - 1
    else if (clock >= start + lengthOf(t)) lo = mid + 1
    else return t
  }
  return undefined
}
type DeleteRange = { clock: number; len: number }
const newItemClock = (it: NewItem): number => it.clock
const newItemLength = (it: NewItem): number => it.length
const structClock = (s: Y.Item | Y.GC | Y.Skip): number => s.id.clock
const structLength = (s: Y.Item | Y.GC | Y.Skip): number => s.length
const rangeClock = (r: DeleteRange): number => r.clock
const rangeLength = (r: DeleteRange): number => r.len

/**
 * Decodes an update against the live document: every new item with its map root and key, every
 * delete with the value it removes, and the clientIDs to bind to the writer (when `bind`).
 */
const decodeChanges = (
  doc: Y.Doc,
  identity: string,
  update: Uint8Array,
  roots: ReadonlySet<string>,
  bind: boolean,
): { created: NewItem[]; deletions: Deletion[]; newClients: number[] } => {
  const store = doc.store
  const bindings = bind ? doc.getMap<string>(CLIENTS_ROOT) : null
  const rootNames = new Map<unknown, string>()
  for (const [name, type] of doc.share) rootNames.set(type, name)
  const { structs, ds } = Y.decodeUpdate(update)

  // Items of this update per client, in clock order, for origin and delete lookups.
  const own = new Map<number, NewItem[]>()
  const newClients = new Set<number>()
  const running = new Map<number, number>()
  const created: NewItem[] = []

  const findInUpdate = (client: number, clock: number): NewItem | undefined => {
    const list = own.get(client)
    return list && spanAt(list, clock, newItemClock, newItemLength)
  }
  const findInStore = (client: number, clock: number): Y.Item | Y.GC | null => {
    if (clock >= Y.getState(store, client)) return null
    const structsOf = store.clients.get(client)
    if (!structsOf) return null
    return structsOf[Y.findIndexSS(structsOf, clock)] ?? null
  }
  // Every struct of the update per client, in clock order. An origin may sit anywhere in the update:
  // Yjs writes clients by descending clientID, so a restarted device's new (larger) clientID comes
  // before the older clientID whose items its own build on.
  const inUpdate = new Map<number, Array<Y.Item | Y.GC | Y.Skip>>()
  for (const s of structs) {
    const list = inUpdate.get(s.id.client) ?? []
    list.push(s)
    inUpdate.set(s.id.client, list)
  }
  const itemInUpdate = (id: Y.ID): Y.Item | undefined => {
    const list = inUpdate.get(id.client)
    const s = list && spanAt(list, id.clock, structClock, structLength)
    return s instanceof Y.Item ? s : undefined
  }
  // Where an item of the update sits, following origins (iteratively: one key overwritten many
  // times offline is a long chain), remembered so each item is resolved once.
  const places = new Map<Y.Item, { root: string; key: string }>()
  const placeOf = (start: Y.Item): { root: string; key: string } => {
    const path = new Set<Y.Item>()
    let item = start
    let place: { root: string; key: string }
    for (;;) {
      const known = places.get(item)
      if (known) {
        place = known
        break
      }
      if (typeof item.parent === 'string') {
        if (item.parentSub === null) return refuse('only map keys are part of the schema')
        place = { root: item.parent, key: item.parentSub }
        break
      }
      if (item.parent !== null) return refuse('nested types are not part of the schema')
      if (path.has(item)) return refuse('update references unknown structs')
      path.add(item)
      const id = (item.origin ?? item.rightOrigin ?? refuse('item without parent')) as Y.ID
      const next = itemInUpdate(id)
      if (!next) {
        place = locate(id)
        break
      }
      item = next
    }
    places.set(item, place)
    for (const it of path) places.set(it, place)
    return place
  }
  const locate = (id: Y.ID): { root: string; key: string } => {
    const mine = itemInUpdate(id)
    if (mine) return placeOf(mine)
    const item = findInStore(id.client, id.clock)
    if (!(item instanceof Y.Item)) return refuse('update references unknown structs')
    const root = rootNames.get(item.parent)
    if (root === undefined || item.parentSub === null) return refuse('update references structs outside the schema')
    return { root, key: item.parentSub }
  }

  // Deletions an update makes without naming them: an item that arrives deleted still becomes its key's
  // newest entry, and Yjs deletes the key's live value when it integrates it.
  const implicit: Deletion[] = []
  for (const struct of structs) {
    if (struct instanceof Y.Skip) refuse('update has gaps')
    // Yjs never writes an empty struct, yet integrates one found at the writer's clock (which the
    // repeat check below would skip): as a key's newest entry it would delete the key's value unchecked.
    if (struct.length <= 0) refuse('empty structs are not part of the schema')
    const { client, clock } = struct.id
    const known = running.get(client) ?? Y.getState(store, client)
    if (clock > known) refuse('update references unknown structs')
    const end = clock + struct.length
    running.set(client, Math.max(known, end))
    if (end <= known) continue // already integrated: a harmless repeat
    // The relay's own clientID (this load's) is never a client's, bound or not.
    if (client === doc.clientID) refuse('client id belongs to the relay')
    if (bindings) {
      const bound = bindings.get(String(client))
      if (bound !== undefined && bound !== identity) refuse('client id belongs to another identity')
      if (bound === undefined) newClients.add(client)
    }
    // Clients never write GC structs into schema documents (roots are never deleted); a few bytes
    // each, they would let one frame claim tens of thousands of clientIDs.
    if (struct instanceof Y.GC) refuse('garbage-collected structs are not part of the schema')
    const item = struct as Y.Item
    let root: string
    let key: string
    if (typeof item.parent === 'string') {
      root = item.parent
      if (item.parentSub === null) refuse('only map keys are part of the schema')
      key = item.parentSub as string
    } else if (item.parent !== null) {
      refuse('nested types are not part of the schema')
    }
    if (item.origin) void locate(item.origin)
    if (item.rightOrigin) void locate(item.rightOrigin)
    if (typeof item.parent !== 'string') {
      const at = locate((item.origin ?? item.rightOrigin ?? refuse('item without parent')) as Y.ID)
      root = at.root
      key = at.key
    }
    if (!roots.has(root!)) refuse(`unknown root ${root!}`)
    if (clock < known) {
      // Yjs integrates only the new tail, right after the writer's struct at `known - 1`, whatever
      // origin the item claims (and deletes that struct if it lands as a key's newest entry): the
      // struct it continues must sit under the same key.
      const at = known - 1
      let prev: { root: string; key: string } | undefined
      if (at < Y.getState(store, client)) {
        const before = findInStore(client, at)
        const name = before instanceof Y.Item ? rootNames.get(before.parent) : undefined
        if (before instanceof Y.Item && name !== undefined && before.parentSub !== null)
          prev = { root: name, key: before.parentSub }
      } else prev = findInUpdate(client, at)
      if (prev?.root !== root! || prev.key !== key!) refuse('update overlaps structs it does not continue')
    }
    let values: unknown[]
    if (item.content instanceof Y.ContentAny) values = item.content.arr
    else if (item.content instanceof Y.ContentDeleted) {
      values = []
      const live = doc.share.get(root!) as Y.Map<unknown> | undefined
      if (live?.has(key!)) implicit.push({ root: root!, key: key!, old: live.get(key!) ?? null })
    } else refuse('only plain JSON values are part of the schema')
    const entry: NewItem = { client, clock, length: item.length, root: root!, key: key!, values: values! }
    const list = own.get(client) ?? []
    list.push(entry)
    own.set(client, list)
    created.push(entry)
  }

  const deletions: Deletion[] = []
  for (const [client, ranges] of ds.clients) {
    for (const range of ranges) {
      let clock = range.clock
      const end = range.clock + range.len
      while (clock < end) {
        const mine = findInUpdate(client, clock)
        if (mine) {
          // The writer's own struct from this very update (its creation was checked above): deleting
          // it touches nothing anyone else wrote. It usually arrives with its content already gone
          // (say, a message sent and removed offline), so there is no old value to judge it by.
          clock = mine.clock + mine.length
          continue
        }
        const item = findInStore(client, clock)
        if (item === null) refuse('delete references unknown structs')
        if (item instanceof Y.Item && !item.deleted) {
          const root = rootNames.get(item.parent)
          if (root === undefined || item.parentSub === null) refuse('delete outside the schema')
          const content = item.content instanceof Y.ContentAny ? item.content.arr : []
          deletions.push({ root: root!, key: item.parentSub!, old: content[content.length - 1] ?? null })
        }
        clock = item!.id.clock + item!.length
      }
    }
  }

  if (newClients.size > MAX_NEW_CLIENTS) refuse('too many new client ids in one update')
  return { created, deletions: [...deletions, ...implicit], newClients: [...newClients] }
}

const checkSemantics = (
  conv: ConversationDocument,
  docKey: string,
  identity: string,
  created: NewItem[],
  deletions: Deletion[],
  stampedFor: (id: string, author: string) => boolean,
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

  // Roles before this update (the creator counts as admin).
  const before = (who: string): ParticipantRecord | undefined => conv.participants.get(who)
  const roleBefore = (): Role | null => before(identity)?.role ?? (createdBy === identity ? 'admin' : null)
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
            if (createdBy !== identity) refuse('only the creator may join without being added')
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
        // A stamp stays when its message is removed, so a stamp means the id was used; except a stamp
        // a restored relay took back before the message (no entry ever under that key), which its
        // author — and only they — may now bring back (see relay/restore.ts).
        const awaited = !conv.messages._map.has(it.key) && stampedFor(it.key, identity)
        if (conv.messages.has(it.key) || (conv.stamps.has(it.key) && !awaited)) refuse('message ids cannot be reused')
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
        return v === null || shortString(v, LIMITS.urlLength)
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

/** Whether applying `update` would change nothing (every struct known, every delete already done). */
export const isNoopUpdate = (doc: Y.Doc, update: Uint8Array): boolean => {
  let decoded: ReturnType<typeof Y.decodeUpdate>
  try {
    decoded = Y.decodeUpdate(update)
  } catch {
    return false
  }
  const store = doc.store
  for (const struct of decoded.structs) {
    if (struct.id.clock + struct.length > Y.getState(store, struct.id.client)) return false
  }
  for (const [client, ranges] of decoded.ds.clients) {
    const structs = store.clients.get(client)
    for (const range of ranges) {
      if (!structs || range.clock + range.len > Y.getState(store, client)) return false
      let clock = range.clock
      while (clock < range.clock + range.len) {
        const struct = structs[Y.findIndexSS(structs, clock)]!
        if (struct instanceof Y.Item && !struct.deleted) return false
        clock = struct.id.clock + struct.length
      }
    }
  }
  return true
}

/**
 * What a document that goes to sleep keeps to recognise an update that would change nothing: its
 * state vector and its delete set (encoded as an update without structs: a few bytes per range).
 */
export interface SleepingState {
  sv: Map<number, number>
  /** Null when nothing was ever deleted. */
  deletes: Uint8Array | null
}

/** The {@link SleepingState} of `doc`. */
export const sleepingStateOf = (doc: Y.Doc): SleepingState => {
  const sv = new Map<number, number>()
  for (const [client, structs] of doc.store.clients) {
    const last = structs[structs.length - 1]!
    sv.set(client, last.id.clock + last.length)
  }
  const deleted = Y.createDeleteSetFromStructStore(doc.store).clients.size > 0
  return { sv, deletes: deleted ? Y.encodeStateAsUpdate(doc, Y.encodeStateVector(doc)) : null }
}

/** Whether the merged, sorted `ranges` of one client cover `[clock, clock + len)`. */
const covered = (ranges: ReadonlyArray<DeleteRange>, clock: number, len: number): boolean => {
  const r = spanAt(ranges, clock, rangeClock, rangeLength)
  return r !== undefined && clock + len <= r.clock + r.len
}

/** {@link isNoopUpdate} against a sleeping document's {@link SleepingState}. */
export const changesNothing = (state: SleepingState, update: Uint8Array): boolean => {
  let decoded: ReturnType<typeof Y.decodeUpdate>
  try {
    decoded = Y.decodeUpdate(update)
  } catch {
    return false
  }
  for (const struct of decoded.structs) {
    if (struct.id.clock + struct.length > (state.sv.get(struct.id.client) ?? 0)) return false
  }
  if (decoded.ds.clients.size === 0) return true
  if (state.deletes === null) return false
  const known = Y.decodeUpdate(state.deletes).ds.clients
  for (const [client, ranges] of decoded.ds.clients) {
    const have = known.get(client)
    if (!have) return false
    for (const range of ranges) if (!covered(have, range.clock, range.len)) return false
  }
  return true
}
