import * as Y from 'yjs'
import { plaintextOf } from '../src/schema/content.ts'
import { type ConversationDocument, type EditRecord, hiddenKey } from '../src/schema/layout.ts'

/** Transaction origin of the relay's inbox writes. */
export const INBOX_ORIGIN = Symbol('colloquy.inbox')

/** The newest message of a conversation, as the inbox shows it. */
export interface InboxLastMessage {
  id: string
  index: number
  author: string
  preview: string | null
  at: number
}

/** One conversation in a person's inbox. */
export interface InboxEntry {
  sid: string
  uniqueName: string | null
  friendlyName: string | null
  addedAt: number
  lastActivity: number
  lastMessage: InboxLastMessage | null
}

/** Name of the inbox map inside an inbox document. */
export const INBOX_ROOT = 'conversations'

/** A person's inbox map. */
export const inboxMap = (doc: Y.Doc): Y.Map<InboxEntry> => doc.getMap(INBOX_ROOT)

const PREVIEW = 140

/** The inbox summary of one stamped message. */
export const summaryOf = (conv: ConversationDocument, id: string): InboxLastMessage | null => {
  const stamp = conv.stamps.get(id)
  const m = conv.messages.get(id)
  if (!stamp || !m) return null
  const edit = conv.edits.get(id) as EditRecord | undefined
  const text = conv.edits.has(hiddenKey(id)) ? null : plaintextOf(edit?.content ?? m.content)
  return { id, index: stamp.i, author: m.author, preview: text === null ? null : text.slice(0, PREVIEW), at: stamp.t }
}

/** The last message of a conversation, or null. O(messages): call on load, then track stamps incrementally. */
export const lastMessageOf = (conv: ConversationDocument): InboxLastMessage | null => {
  let best: string | null = null
  let bestIndex = -1
  conv.stamps.forEach((stamp, id) => {
    if (stamp.i > bestIndex && conv.messages.has(id)) {
      best = id
      bestIndex = stamp.i
    }
  })
  return best === null ? null : summaryOf(conv, best)
}

/** The entry a conversation should have in its members' inboxes now. */
export const inboxEntryFor = (
  conv: ConversationDocument,
  lastMessage: InboxLastMessage | null,
  previous: InboxEntry | undefined,
  now: number,
): InboxEntry => {
  const addedAt = previous?.addedAt ?? now
  return {
    sid: conv.get('sid', ''),
    uniqueName: conv.get('uniqueName', null),
    friendlyName: conv.get('friendlyName', null),
    addedAt,
    lastActivity: Math.max(addedAt, lastMessage?.at ?? 0, conv.get('dateCreated', 0)),
    lastMessage,
  }
}

/** Writes `entry` unless the stored one is equal (avoids a tombstone per unchanged write). */
export const putInboxEntry = (inbox: Y.Doc, entry: InboxEntry): void => {
  const map = inboxMap(inbox)
  const cur = map.get(entry.sid)
  if (cur && JSON.stringify(cur) === JSON.stringify(entry)) return
  Y.transact(inbox, () => map.set(entry.sid, entry), INBOX_ORIGIN)
}

/** Removes a conversation from a person's inbox (they left, were removed, or it was deleted). */
export const removeInboxEntry = (inbox: Y.Doc, sid: string): void => {
  const map = inboxMap(inbox)
  if (!map.has(sid)) return
  Y.transact(inbox, () => map.delete(sid), INBOX_ORIGIN)
}
