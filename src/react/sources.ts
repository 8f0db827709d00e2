/**
 * What each hook's shared window reads: the client's live windows (attached through their
 * `subscribe`/`getSnapshot` pair) and events, turned into values that keep their identity while
 * nothing shown changes.
 */
import type { Client } from '../client/client.ts'
import { Conversation } from '../client/conversation.ts'
import type {
  ConversationSnapshot,
  ListSubscription,
  LiveSubscription,
  MessageSnapshot,
  ParticipantSnapshot,
  TypingSnapshot,
} from '../client/subscriptions.ts'
import type { User } from '../client/user.ts'
import { ColloquyError } from '../errors.ts'
import { type JsonObject, jsonEqual } from '../schema/json.ts'
import type { ConnectionState } from '../sync/sync-client.ts'
import type { Sink, Source, WindowSpec } from './shared-window.ts'

/** A conversation as hooks take it: the object, or its sid. */
export type ConversationRef = Conversation | string

/** A list window's value: the items shown and whether they are all there is. */
export interface ListValue<T> {
  readonly items: readonly T[]
  readonly loadedAll: boolean
}

/** A user as I see them, frozen. */
export interface UserSnapshot {
  readonly identity: string
  readonly friendlyName: string | null
  readonly photoUrl: string | null
  readonly custom: JsonObject
  /** Connected to the relay now; null when unknown (I am offline, or there is no relay). */
  readonly isOnline: boolean | null
  readonly isMe: boolean
}

/**
 * Grows a list window by `count` items (default 30) for every component showing it; resolves once
 * the bigger snapshot is shown. Rejects with CLOSED before the window has opened.
 */
export type LoadMore = (count?: number) => Promise<void>

const noop = (): void => {}

export const EMPTY_LIST: ListValue<never> = Object.freeze({ items: Object.freeze([]), loadedAll: false })
export const NO_TYPING: TypingSnapshot = Object.freeze({ many: false, users: Object.freeze([]) })

/** The sid of a conversation reference, checked. */
export const sidOf = (ref: ConversationRef): string => {
  if (ref instanceof Conversation) return ref.sid
  if (typeof ref === 'string' && ref.length > 0) return ref
  throw new ColloquyError('INVALID_ARGUMENT', 'conversation must be a Conversation or a non-empty sid')
}

/**
 * The conversation `ref` names. A sid the client does not know yet (a new device whose inbox is
 * still syncing, a conversation I was just added to) is waited for until the client has synced
 * what it knows (inbox, then the conversations it names); then it is NOT_FOUND. Resolves to null once `signal` aborts (the window was released).
 */
const resolve = async (client: Client, ref: ConversationRef, signal: AbortSignal): Promise<Conversation | null> => {
  if (ref instanceof Conversation) return ref
  const sid = ref
  try {
    return await client.getConversationBySid(sid)
  } catch (error) {
    if (!(error instanceof ColloquyError) || error.code !== 'NOT_FOUND') throw error
  }
  const offs: Array<() => void> = []
  try {
    const added = new Promise<Conversation>((found) => {
      offs.push(client.on('conversationAdded', (c) => c.sid === sid && found(c)))
    })
    const released = new Promise<null>((done) => {
      const abort = () => done(null)
      signal.addEventListener('abort', abort, { once: true })
      offs.push(() => signal.removeEventListener('abort', abort))
    })
    // Two rounds: the first sync can open conversations (my inbox names them) whose own
    // documents the second one waits for.
    const synced = (async () => {
      for (let round = 1; ; round++) {
        try {
          await client.whenSynced({ signal })
          return await client.getConversationBySid(sid)
        } catch (error) {
          if (signal.aborted) return null
          if (round === 2 || !(error instanceof ColloquyError) || error.code !== 'NOT_FOUND') throw error
        }
      }
    })()
    const conversation = await Promise.race([added, released, synced])
    return signal.aborted ? null : conversation
  } finally {
    for (const off of offs) off()
  }
}

/** Attaches to a client live window and delivers `read()` of it after each new snapshot. */
const attach = <T, V>(sink: Sink<V>, window: LiveSubscription<T>, read: (snapshot: T) => V): (() => void) => {
  const update = () => {
    if (window.state === 'error') return sink.fail(window.error)
    const snapshot = window.getSnapshot()
    if (snapshot !== null) sink.set(read(snapshot))
  }
  const detach = window.subscribe(update)
  update()
  return () => {
    detach()
    window.unsubscribe()
  }
}

/** A list window's value, a new object only when the items or `loadedAll` changed. */
const listReader = <T>(window: ListSubscription<T>) => {
  let last: ListValue<T> | null = null
  return (items: readonly T[]): ListValue<T> => {
    const loadedAll = window.loadedAll
    if (last === null || last.items !== items || last.loadedAll !== loadedAll)
      last = Object.freeze({ items, loadedAll })
    return last
  }
}

/** The options of a window: no `limit` key at all when none is given. */
const limitOption = (limit: number | undefined): { limit?: number } => (limit === undefined ? {} : { limit })

/**
 * Runs `open` on the conversation `ref` names once it is resolved, and again on its successor:
 * the client replaces a conversation's object when it loads it afresh (after the relay refused an
 * update), and the old object no longer changes.
 */
const followConversation = <V>(
  client: Client,
  ref: ConversationRef,
  sink: Sink<V>,
  open: (conversation: Conversation) => () => void,
): (() => void) => {
  const released = new AbortController()
  const sid = sidOf(ref)
  let current: Conversation | null = null
  let stop: () => void = noop
  const openOn = (conversation: Conversation) => {
    stop()
    stop = noop
    current = conversation
    try {
      stop = open(conversation)
    } catch (error) {
      sink.fail(error)
    }
  }
  const offAdded = client.on('conversationAdded', (c) => {
    if (c.sid === sid && current !== null && c !== current) openOn(c)
  })
  resolve(client, ref, released.signal).then(
    (conversation) => {
      if (conversation !== null && !released.signal.aborted && current === null) openOn(conversation)
    },
    (error: unknown) => sink.fail(error),
  )
  return () => {
    released.abort()
    offAdded()
    stop()
  }
}

/** A source over a live window of a conversation. */
const onConversation =
  <V>(client: Client, ref: ConversationRef, open: (c: Conversation, sink: Sink<V>) => () => void): Source<V> =>
  (sink) =>
    followConversation(client, ref, sink, (c) => open(c, sink))

/**
 * A list window and its `loadMore`. `start` opens the client's window (its argument checks become
 * the hook's error) through `open`, possibly again later; `loadMore` grows the one open now.
 */
const listSource = <T>(
  start: (sink: Sink<ListValue<T>>, open: (window: ListSubscription<T>) => () => void) => () => void,
): WindowSpec<ListValue<T>, { loadMore: LoadMore }> => {
  let current: ListSubscription<T> | null = null
  const source: Source<ListValue<T>> = (sink) =>
    start(sink, (window) => {
      current = window
      const detach = attach(sink, window, listReader(window))
      return () => {
        detach()
        if (current === window) current = null
      }
    })
  const loadMore: LoadMore = async (count) => {
    if (current === null) throw new ColloquyError('CLOSED', 'the window is not open (yet)')
    await current.loadMore(count)
  }
  return { initial: EMPTY_LIST, source, control: { loadMore } }
}

/** My conversations, most recently active first. */
export const conversationsSource = (client: Client, limit: number | undefined) =>
  listSource<ConversationSnapshot>((_sink, open) => open(client.subscribeConversations(noop, limitOption(limit))))

/** A conversation's newest messages, newest first (opens the conversation if needed). */
export const messagesSource = (client: Client, ref: ConversationRef, limit: number | undefined) =>
  listSource<MessageSnapshot>((sink, open) =>
    followConversation(client, ref, sink, (c) => open(c.subscribeMessages(noop, limitOption(limit)))),
  )

/** A conversation's participants, most recently joined first. */
export const participantsSource = (client: Client, ref: ConversationRef, limit: number | undefined) =>
  listSource<ParticipantSnapshot>((sink, open) =>
    followConversation(client, ref, sink, (c) => open(c.subscribeParticipants(noop, limitOption(limit)))),
  )

/** One conversation as I see it (null once I no longer see it). */
export const conversationSource = (client: Client, ref: ConversationRef): Source<ConversationSnapshot | null> =>
  onConversation(client, ref, (c, sink) => attach(sink, c.subscribe(noop), (s) => s))

/** Who is typing in a conversation. */
export const typingSource = (client: Client, ref: ConversationRef): Source<TypingSnapshot> =>
  onConversation(client, ref, (c, sink) => attach(sink, c.subscribeTyping(noop), (s) => s))

/** My unread messages in one conversation (a number, so a render happens only when it changes). */
export const conversationUnreadSource = (client: Client, ref: ConversationRef): Source<number> =>
  onConversation(client, ref, (c, sink) => attach(sink, c.subscribe(noop), (s) => s?.unreadMessageCount ?? 0))

/**
 * My unread messages across every conversation: a conversation list window grown until it holds
 * them all (the list computes every conversation's snapshot on each change anyway).
 */
export const totalUnreadSource =
  (client: Client): Source<number> =>
  (sink) => {
    const window = client.subscribeConversations(noop, { limit: 30 })
    return attach(sink, window, (items) => {
      if (!window.loadedAll) void window.loadMore(30).catch(noop)
      let total = 0
      for (const c of items) total += c.unreadMessageCount
      return total
    })
  }

/** The link to the relay. */
export const connectionSource =
  (client: Client): Source<ConnectionState> =>
  (sink) => {
    sink.set(client.connectionState)
    return client.on('connectionStateChanged', (state) => sink.set(state))
  }

const userSnapshot = (user: User, last: UserSnapshot | null): UserSnapshot => {
  const next: UserSnapshot = {
    identity: user.identity,
    friendlyName: user.friendlyName,
    photoUrl: user.photoUrl,
    custom: user.attributes,
    isOnline: user.isOnline,
    isMe: user.isMe,
  }
  if (last !== null && jsonEqual(last, next)) return last
  return Object.freeze({ ...next, custom: Object.freeze(next.custom) })
}

/** A user's profile and presence. */
export const userSource =
  (client: Client, identity: string): Source<UserSnapshot> =>
  (sink) => {
    let offs: Array<() => void> = []
    let stopped = false
    client.getUser(identity).then(
      (user) => {
        if (stopped) return
        let last: UserSnapshot | null = null
        const update = () => {
          last = userSnapshot(user, last)
          sink.set(last)
        }
        // Presence is unknown while I am offline: a change of my connection changes every user's.
        offs = [user.on('updated', update), client.on('connectionStateChanged', update)]
        update()
      },
      (error: unknown) => sink.fail(error),
    )
    return () => {
      stopped = true
      for (const off of offs) off()
    }
  }
