/**
 * The hooks of `colloquy/react`. Each reads a live window shared through the provider, and
 * renders only when what it returns changed: snapshots keep their identity while nothing shown
 * changes. While a window opens they return `isLoading: true`; a failure (a bad limit, an unknown
 * conversation) comes back as `error`. For hooks that suspend and throw instead, use
 * `colloquy/react/suspense`.
 */
import { useCallback, useMemo } from 'react'
import { Conversation, type SendMessageInput } from '../client/conversation.ts'
import {
  type ConversationSnapshot,
  type MessageSnapshot,
  messageSnapshot,
  type ParticipantSnapshot,
  type TypingSnapshot,
} from '../client/subscriptions.ts'
import { ColloquyError } from '../errors.ts'
import type { JsonObject } from '../schema/json.ts'
import type { ConnectionState } from '../sync/sync-client.ts'
import { useClient, useSharedWindow } from './provider.ts'
import type { WindowSpec, WindowState } from './shared-window.ts'
import {
  type ConversationRef,
  connectionSource,
  conversationSource,
  conversationsSource,
  conversationUnreadSource,
  EMPTY_LIST,
  type ListValue,
  type LoadMore,
  messagesSource,
  NO_TYPING,
  participantsSource,
  sidOf,
  totalUnreadSource,
  typingSource,
  type UserSnapshot,
  userSource,
} from './sources.ts'

/** Loading and error state, common to the hooks' results. */
export interface LiveState {
  /** True until the window's first snapshot (or its error). */
  readonly isLoading: boolean
  /** Why the window failed (a `ColloquyError`, e.g. NOT_FOUND or INVALID_ARGUMENT), or null. */
  readonly error: unknown
}

/** A growable list window's state. */
export interface LiveList extends LiveState {
  /** Whether the window holds everything there is. */
  readonly loadedAll: boolean
  /** Grows the window by `count` (default 30) for every component showing it; resolves once shown. */
  readonly loadMore: LoadMore
}

/** Options of the list hooks. */
export interface ListOptions {
  /** How many items the window shows at first (each window has its own maximum, see the `subscribe*` methods). */
  limit?: number
}

/** Ordered parts of a shared window's key (a separator that cannot appear in sids or identities). */
export const keyOf = (...parts: ReadonlyArray<string | number | undefined>): string =>
  parts.map((p) => (p === undefined ? '' : String(p))).join('\u0000')

/** A window spec for sources with no actions. */
export const plain = <S>(initial: S, source: WindowSpec<S, undefined>['source']): WindowSpec<S, undefined> => ({
  initial,
  source,
  control: undefined,
})

const noMore: LoadMore = () => Promise.reject(new ColloquyError('INVALID_ARGUMENT', 'no conversation given'))

const liveState = (state: WindowState<unknown>): LiveState => ({
  isLoading: state.status === 'loading',
  error: state.status === 'error' ? state.error : null,
})

/** A list hook's result from its window (or the empty result when it reads nothing). */
const useList = <T>(
  key: string | null,
  spec: Parameters<typeof useSharedWindow<ListValue<T>, { loadMore: LoadMore }>>[1],
): LiveList & { items: readonly T[] } => {
  const { state, shared } = useSharedWindow(key, spec)
  const loadMore = shared?.control.loadMore ?? noMore
  return useMemo(
    () =>
      key === null
        ? { items: EMPTY_LIST.items, loadedAll: true, loadMore, isLoading: false, error: null }
        : { items: state.value.items, loadedAll: state.value.loadedAll, loadMore, ...liveState(state) },
    [key, state, loadMore],
  )
}

/** A list result with its items under the hook's own name. */
const rename = <T, K extends string>(
  { items, ...rest }: LiveList & { items: readonly T[] },
  name: K,
): LiveList & { readonly [P in K]: readonly T[] } =>
  ({ ...rest, [name]: items }) as LiveList & { readonly [P in K]: readonly T[] }

/** The sid of an optional conversation reference. */
const optionalSid = (ref: ConversationRef | null | undefined): string | null =>
  ref === null || ref === undefined ? null : sidOf(ref)

/**
 * My conversations, most recently active first (default 20; `loadMore` up to 30 at a time).
 *
 * @example
 * const { conversations, loadedAll, loadMore } = useConversations({ limit: 20 })
 */
export const useConversations = (
  options: ListOptions = {},
): LiveList & { readonly conversations: readonly ConversationSnapshot[] } => {
  const list = useList(keyOf('conversations', options.limit), (client) => conversationsSource(client, options.limit))
  return useMemo(() => rename(list, 'conversations'), [list])
}

/**
 * A conversation's newest messages, newest first (default 30; `loadMore` up to 100 at a time),
 * pending ones included. Takes the Conversation or its sid: a sid the client has not opened yet
 * is waited for (`isLoading`) until the client has synced, then it is an error (NOT_FOUND).
 */
export const useMessages = (
  conversation: ConversationRef | null | undefined,
  options: ListOptions = {},
): LiveList & { readonly messages: readonly MessageSnapshot[] } => {
  const sid = optionalSid(conversation)
  const list = useList(sid === null ? null : keyOf('messages', sid, options.limit), (client) =>
    messagesSource(client, conversation!, options.limit),
  )
  return useMemo(() => rename(list, 'messages'), [list])
}

/** A conversation's participants, most recently joined first (default 10; `loadMore` up to 50 at a time). */
export const useParticipants = (
  conversation: ConversationRef | null | undefined,
  options: ListOptions = {},
): LiveList & { readonly participants: readonly ParticipantSnapshot[] } => {
  const sid = optionalSid(conversation)
  const list = useList(sid === null ? null : keyOf('participants', sid, options.limit), (client) =>
    participantsSource(client, conversation!, options.limit),
  )
  return useMemo(() => rename(list, 'participants'), [list])
}

/** One conversation as I see it: null while loading, when none is given, or once I no longer see it. */
export const useConversation = (
  conversation: ConversationRef | null | undefined,
): LiveState & { readonly conversation: ConversationSnapshot | null } => {
  const sid = optionalSid(conversation)
  const { state } = useSharedWindow(sid === null ? null : keyOf('conversation', sid), (client) =>
    plain<ConversationSnapshot | null>(null, conversationSource(client, conversation!)),
  )
  return useMemo(
    () =>
      sid === null
        ? { conversation: null, isLoading: false, error: null }
        : { conversation: state.value, ...liveState(state) },
    [sid, state],
  )
}

/** Who is typing in a conversation (never me): up to five names, or `{ many: true }`. */
export const useTyping = (conversation: ConversationRef | null | undefined): TypingSnapshot => {
  const sid = optionalSid(conversation)
  const { state } = useSharedWindow(sid === null ? null : keyOf('typing', sid), (client) =>
    plain(NO_TYPING, typingSource(client, conversation!)),
  )
  return sid === null ? NO_TYPING : state.value
}

/**
 * My unread messages: in one conversation, or across all of them when none is given. 0 while
 * loading; renders only when the number changes.
 */
export const useUnreadCount = (conversation?: ConversationRef | null): number => {
  const sid = optionalSid(conversation)
  const { state } = useSharedWindow(sid === null ? keyOf('unread') : keyOf('unread', sid), (client) =>
    plain(0, sid === null ? totalUnreadSource(client) : conversationUnreadSource(client, conversation!)),
  )
  return state.value
}

/** A user's profile and presence (`isOnline`), or null while loading or when no identity is given. */
export const useUser = (identity: string | null | undefined): LiveState & { readonly user: UserSnapshot | null } => {
  const key = identity === null || identity === undefined ? null : keyOf('user', identity)
  const { state } = useSharedWindow(key, (client) => plain<UserSnapshot | null>(null, userSource(client, identity!)))
  return useMemo(
    () => (key === null ? { user: null, isLoading: false, error: null } : { user: state.value, ...liveState(state) }),
    [key, state],
  )
}

/** The link to the relay: `connecting`, `connected`, `disconnected`, … (`disconnected` without a relay). */
export const useConnectionState = (): ConnectionState => {
  const client = useClient()
  const { state } = useSharedWindow(keyOf('connection'), () => plain(client.connectionState, connectionSource(client)))
  return state.value
}

const deepFreeze = <T>(value: T): T => {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value)) deepFreeze(v)
  }
  return value
}

/** Sends a message; resolves with it as soon as it is stored on this device (status `pending`). */
export type SendMessage = (input: string | SendMessageInput, attributes?: JsonObject) => Promise<MessageSnapshot>

/**
 * A function that sends to `conversation`. The message is in every `useMessages` window of the
 * conversation at once (pending), and the promise resolves with its snapshot without waiting for
 * the relay.
 *
 * @example
 * const send = useSendMessage(sid)
 * const pending = await send('hello') // pending.status === 'pending'
 */
export const useSendMessage = (conversation: ConversationRef | null | undefined): SendMessage => {
  const client = useClient()
  return useCallback(
    async (input, attributes) => {
      if (conversation === null || conversation === undefined)
        throw new ColloquyError('INVALID_ARGUMENT', 'no conversation to send to')
      const target =
        conversation instanceof Conversation ? conversation : await client.getConversationBySid(sidOf(conversation))
      const message = await target.sendMessage(input, attributes)
      return deepFreeze(messageSnapshot(message))
    },
    [client, conversation],
  )
}
