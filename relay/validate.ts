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
import {
  type Actor,
  type Decision,
  mayAddParticipant,
  mayChangeConversation,
  mayChangeMetaField,
  mayChangeParticipant,
  mayCreateConversation,
  mayEditMessage,
  mayHideMessage,
  mayReact,
  mayRemoveEdit,
  mayRemoveFromRelayRoot,
  mayRemoveMessage,
  mayRemoveParticipant,
  mayRemovePersonalState,
  mayRemoveReaction,
  maySendMessage,
  mayUnhideMessage,
  mayWritePreference,
  mayWriteReadState,
  mayWriteRelayRoot,
} from '../src/policy/rules.ts'
import { isPlainObject } from '../src/schema/json.ts'
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
} from '../src/schema/layout.ts'
import { isUnjoinedCreator } from '../src/schema/permissions.ts'
import {
  attributesProblem,
  attributeValueProblem,
  editRecordProblem,
  emojiProblem,
  hideRecordProblem,
  isMetaField,
  MAX_KEY_LENGTH,
  messageRecordProblem,
  metaRecordProblem,
  participantRecordProblem,
  personalKeyOwner,
  preferenceValueProblem,
  profileFieldProblem,
  reactionValueProblem,
  readSlotOwner,
  readSlotProblem,
} from '../src/schema/records.ts'
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
 * Root holding, per bound clientID, the relay's MAC of that binding (see relay/stamp-mac.ts);
 * written by the relay only, beside `clients`, whose values stay plain identities.
 */
export const SEALS_ROOT = 'seals'

/**
 * The outcome: accepted (with clientIDs to bind to the writer and, for conversations, what the
 * update does that the relay's quotas count), or refused with a reason. A
 * refusal is `internal` when the validator itself failed (an exception, not a rule): that is a
 * relay bug to report to the operator, with the `error`, not the client's fault.
 */
export type Verdict =
  | { ok: true; newClients: number[]; effects?: UpdateEffects }
  | { ok: false; reason: string; internal: false }
  | { ok: false; reason: string; internal: true; error: unknown }

/** What an accepted conversation update does that the relay's quotas count (`relay/quotas.ts`). */
export interface UpdateEffects {
  /** It creates the conversation. */
  creates: boolean
  /** Participants it adds that were not participants before, the writer left out (`chat`: a user, who gets an inbox entry). */
  added: Array<{ key: string; chat: boolean }>
}

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

const KNOWN_ROOTS = new Set<string>([...Object.values(ROOTS), CLIENTS_ROOT, SEALS_ROOT])

/**
 * Validates one update from `identity` against the live conversation document, before it is
 * applied or forwarded: decode → records → policy → verdict. The decoder (`src/crdt/`) reads the
 * update without applying it, resolving every item's map key through its origin in the update or
 * the live store and every delete against the live store; {@link judgeChanges} checks each record's
 * shape (`src/schema/records.ts`) and asks the policy (`src/policy/rules.ts`) who may write it.
 * Cost: O(items in the update × log(structs per client)), never O(document).
 */
export const validateConversationUpdate = (
  conv: ConversationDocument,
  docKey: string,
  identity: string,
  update: Uint8Array,
  quota: ClientIdQuota | null = null,
  stampedFor: (id: string, author: string) => boolean = () => false,
): Verdict => {
  let effects: UpdateEffects | undefined
  const verdict = verdictOf(() => {
    const { created, deletions, newClients } = decodeChanges(conv.doc, identity, update, KNOWN_ROOTS, true)
    judgeChanges(conv, docKey, identity, created, deletions, stampedFor)
    effects = effectsOf(conv, identity, created)
    takeClientIds(quota, conv.doc, `conv/${docKey}`, identity, newClients, true)
    return newClients
  })
  return verdict.ok && effects ? { ...verdict, effects } : verdict
}

/** What a valid update does that quotas count: a creation, participants added by the writer. */
const effectsOf = (conv: ConversationDocument, identity: string, created: NewItem[]): UpdateEffects => {
  let creates = false
  const added = new Map<string, boolean>()
  for (const it of created) {
    if (it.values.length === 0) continue
    if (it.root === ROOTS.meta && it.key === 'sid') creates = !conv.exists
    if (it.root !== ROOTS.participants || it.key === identity || conv.participants.has(it.key)) continue
    added.set(it.key, (it.values[it.values.length - 1] as ParticipantRecord).type === 'chat')
  }
  return { creates, added: [...added].map(([key, chat]) => ({ key, chat })) }
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
    for (const it of created) refuseIf(profileFieldProblem(it.key, it.values))
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

const enforce = (decision: Decision): void => {
  if (!decision.ok) refuse(decision.reason)
}
const refuseIf = (problem: string | null): void => {
  if (problem !== null) refuse(problem)
}
const metaValue = (rec: unknown): unknown => (isPlainObject(rec) ? rec.v : undefined)

/**
 * Judges a decoded conversation update: gathers the facts the policy needs from the live document
 * and the update (who acts, with which role before it; authors; membership), checks each record's
 * shape (`src/schema/records.ts`), and asks the policy (`src/policy/rules.ts`). Every refusal
 * throws {@link Refused} with its reason.
 */
const judgeChanges = (
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
  if (creating) enforce(mayCreateConversation(identity, { sid: metaValue(newMeta.get('sid')), createdBy }, docKey))
  if (!exists && !creating && created.length + deletions.length > 0) refuse('the conversation does not exist')

  // Roles before this update: the creator counts as admin until they first take part.
  const before = (who: string): ParticipantRecord | undefined => conv.participants.get(who)
  const unjoinedCreator = exists ? isUnjoinedCreator(conv, identity) : createdBy === identity
  const actorWith = (p: ParticipantRecord | undefined): Actor => ({
    identity,
    participant: p ? { role: p.role, access: p.access } : null,
    unjoinedCreator,
  })
  const actor = actorWith(before(identity))
  // Creating, the creator writes the first records before any role exists.
  const changeConversation = (): void => {
    if (!creating) enforce(mayChangeConversation(actor))
  }

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
  const member = actorWith(before(identity) ?? after(identity))
  const newMessages = latest(ROOTS.messages)
  const messageAuthor = (id: string): string | null =>
    (newMessages.get(id) as MessageRecord | undefined)?.author ?? conv.messages.get(id)?.author ?? null

  for (const it of created) {
    const last = it.values[it.values.length - 1]
    const arrivesDeleted = it.values.length === 0
    if (it.key.length > MAX_KEY_LENGTH) refuse('key too long')
    switch (it.root) {
      case ROOTS.meta: {
        if (!isMetaField(it.key)) refuse(`unknown conversation field ${it.key}`)
        if (exists) enforce(mayChangeMetaField(it.key))
        changeConversation()
        for (const v of it.values) refuseIf(metaRecordProblem(it.key as keyof MetaFields, v, identity))
        break
      }
      case ROOTS.attributes: {
        changeConversation()
        for (const v of it.values) refuseIf(attributeValueProblem(v))
        break
      }
      case ROOTS.participants: {
        for (const v of it.values) refuseIf(participantRecordProblem(docKey, it.key, v))
        if (arrivesDeleted) break
        const rec = last as ParticipantRecord
        const existing = before(it.key)
        if (!existing) enforce(mayAddParticipant(actor, it.key, rec))
        else enforce(mayChangeParticipant(actor, it.key, existing, rec))
        break
      }
      case ROOTS.messages: {
        if (arrivesDeleted) break
        // A stamp stays when its message is removed, so a stamp means the id was used; except a stamp
        // a restored relay took back before the message (no entry ever under that key), which its
        // author — and only they — may now bring back (see relay/restore.ts).
        const awaited = !conv.messages._map.has(it.key) && stampedFor(it.key, identity)
        const idUsed = conv.messages.has(it.key) || (conv.stamps.has(it.key) && !awaited)
        enforce(maySendMessage(member, { state: conv.get('state', 'active') }, { idUsed }))
        for (const v of it.values) refuseIf(messageRecordProblem(docKey, it.key, v, identity))
        break
      }
      case ROOTS.edits: {
        if (arrivesDeleted) break
        const target = editTarget(it.key)
        if (it.key !== target) {
          if (it.key !== hiddenKey(target)) refuse('unknown edit key')
          enforce(mayHideMessage(actor, { exists: messageAuthor(target) !== null }))
          for (const v of it.values) refuseIf(hideRecordProblem(v, identity))
          break
        }
        const message = { author: messageAuthor(it.key), stamped: conv.stamps.has(it.key) }
        const decision = mayEditMessage(member, message)
        // An edit of a message that never was is refused as such, before its shape is read.
        if (message.author === null && !message.stamped) enforce(decision)
        for (const v of it.values) refuseIf(editRecordProblem(v, identity))
        enforce(decision)
        break
      }
      case ROOTS.reactions: {
        const { identity: reactor, emoji } = parseReactionKey(it.key)
        // Someone else's key is refused whatever its emoji (the reason names the forgery).
        if (reactor === identity) refuseIf(emojiProblem(emoji))
        enforce(mayReact(member, reactor, arrivesDeleted))
        // A reaction racing the message's removal is a harmless orphan: no reason to refuse it.
        for (const v of it.values) refuseIf(reactionValueProblem(v))
        break
      }
      case ROOTS.reads: {
        enforce(mayWriteReadState(member, readSlotOwner(it.key), arrivesDeleted))
        for (const v of it.values) refuseIf(readSlotProblem(v))
        break
      }
      case ROOTS.prefs: {
        const slot = personalKeyOwner(it.key)
        const field = slot?.rest ?? ''
        enforce(mayWritePreference(member, slot?.owner ?? null, field, arrivesDeleted))
        for (const v of it.values) refuseIf(preferenceValueProblem(field, v))
        break
      }
      default:
        enforce(mayWriteRelayRoot(it.root))
    }
  }

  // Attributes are checked per key above; their total must also stay within the limit.
  if (created.some((it) => it.root === ROOTS.attributes)) {
    const merged: Record<string, unknown> = conv.attributes.toJSON()
    for (const d of deletions) if (d.root === ROOTS.attributes) delete merged[d.key]
    for (const [k, v] of latest(ROOTS.attributes)) merged[k] = v
    refuseIf(attributesProblem(merged))
  }
  const removedMessages = new Set(deletions.filter((d) => d.root === ROOTS.messages).map((d) => d.key))
  for (const d of deletions) {
    switch (d.root) {
      case ROOTS.meta:
        if (exists) enforce(mayChangeMetaField(d.key))
        changeConversation()
        break
      case ROOTS.attributes:
        changeConversation()
        break
      case ROOTS.participants:
        enforce(mayRemoveParticipant(actor, d.key, (d.old as ParticipantRecord | null)?.role ?? 'member'))
        break
      case ROOTS.messages:
        enforce(mayRemoveMessage(actor, { author: (d.old as MessageRecord | null)?.author ?? null }))
        break
      case ROOTS.edits: {
        const target = editTarget(d.key)
        if (d.key !== target)
          enforce(mayUnhideMessage(actor, { author: messageAuthor(target), removing: removedMessages.has(target) }))
        else {
          const message = { author: messageAuthor(d.key), stamped: conv.stamps.has(d.key) }
          enforce(mayRemoveEdit(actor, message, { by: (d.old as EditRecord | null)?.by }))
        }
        break
      }
      case ROOTS.reactions: {
        const { messageId, identity: reactor } = parseReactionKey(d.key)
        enforce(mayRemoveReaction(actor, reactor, messageAuthor(messageId)))
        break
      }
      case ROOTS.reads:
      case ROOTS.prefs:
        enforce(mayRemovePersonalState(actor, personalKeyOwner(d.key)?.owner ?? null))
        break
      default:
        enforce(mayRemoveFromRelayRoot(d.root))
    }
  }
}
