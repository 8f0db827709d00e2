/**
 * `colloquy/react/suspense`: the same hooks, sharing the same windows, but they suspend until the
 * window's first snapshot (wrap them in `<Suspense>`) and throw its error to the nearest error
 * boundary, so what they return is always there.
 *
 * @example
 * function Messages({ sid }: { sid: string }) {
 *   const { messages } = useMessages(sid) // suspends until the first snapshot
 *   return messages.map((m) => m.plaintext).join('\n')
 * }
 */
import { useMemo } from 'react'
import type { Client } from '../client/client.ts'
import type {
  ConversationSnapshot,
  MessageSnapshot,
  ParticipantSnapshot,
  TypingSnapshot,
} from '../client/subscriptions.ts'
import { keyOf, type ListOptions, plain } from './hooks.ts'
import { useSharedWindow } from './provider.ts'
import type { WindowSpec } from './shared-window.ts'
import {
  type ConversationRef,
  conversationSource,
  conversationsSource,
  conversationUnreadSource,
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

export {
  type ListOptions,
  type LiveList,
  type LiveState,
  type SendMessage,
  useConnectionState,
  useSendMessage,
} from './hooks.ts'
export { ColloquyProvider, type ColloquyProviderProps, useClient } from './provider.ts'
export type { ConversationRef, LoadMore, UserSnapshot } from './sources.ts'

/** The window's value once it has one: suspends before, throws its error after a failure. */
const useReady = <S, C>(key: string, spec: (client: Client) => WindowSpec<S, C>): { value: S; control: C } => {
  const { state, shared } = useSharedWindow(key, spec)
  if (state.status === 'error') throw state.error
  if (state.status === 'loading') throw shared!.settled
  return { value: state.value, control: shared!.control }
}

/** A list window, ready. */
export interface ReadyList {
  /** Whether the window holds everything there is. */
  readonly loadedAll: boolean
  /** Grows the window by `count` (default 30) for every component showing it; resolves once shown. */
  readonly loadMore: LoadMore
}

const useReadyList = <T, K extends string>(
  key: string,
  name: K,
  spec: (client: Client) => WindowSpec<ListValue<T>, { loadMore: LoadMore }>,
): ReadyList & { readonly [P in K]: readonly T[] } => {
  const { value, control } = useReady(key, spec)
  return useMemo(
    () =>
      ({ [name]: value.items, loadedAll: value.loadedAll, loadMore: control.loadMore }) as ReadyList & {
        readonly [P in K]: readonly T[]
      },
    [name, value, control],
  )
}

/** My conversations, most recently active first (default 20; `loadMore` up to 30 at a time). */
export const useConversations = (
  options: ListOptions = {},
): ReadyList & { readonly conversations: readonly ConversationSnapshot[] } =>
  useReadyList(keyOf('conversations', options.limit), 'conversations', (client) =>
    conversationsSource(client, options.limit),
  )

/** A conversation's newest messages, newest first; a sid not opened yet is waited for (suspended). */
export const useMessages = (
  conversation: ConversationRef,
  options: ListOptions = {},
): ReadyList & { readonly messages: readonly MessageSnapshot[] } =>
  useReadyList(keyOf('messages', sidOf(conversation), options.limit), 'messages', (client) =>
    messagesSource(client, conversation, options.limit),
  )

/** A conversation's participants, most recently joined first. */
export const useParticipants = (
  conversation: ConversationRef,
  options: ListOptions = {},
): ReadyList & { readonly participants: readonly ParticipantSnapshot[] } =>
  useReadyList(keyOf('participants', sidOf(conversation), options.limit), 'participants', (client) =>
    participantsSource(client, conversation, options.limit),
  )

/** One conversation as I see it (null once I no longer see it). */
export const useConversation = (conversation: ConversationRef): ConversationSnapshot | null =>
  useReady(keyOf('conversation', sidOf(conversation)), (client) =>
    plain<ConversationSnapshot | null>(null, conversationSource(client, conversation)),
  ).value

/** Who is typing in a conversation (never me). */
export const useTyping = (conversation: ConversationRef): TypingSnapshot =>
  useReady(keyOf('typing', sidOf(conversation)), (client) => plain(NO_TYPING, typingSource(client, conversation))).value

/** My unread messages: in one conversation, or across all of them when none is given. */
export const useUnreadCount = (conversation?: ConversationRef | null): number => {
  const sid = conversation === null || conversation === undefined ? null : sidOf(conversation)
  return useReady(sid === null ? keyOf('unread') : keyOf('unread', sid), (client) =>
    plain(0, sid === null ? totalUnreadSource(client) : conversationUnreadSource(client, conversation!)),
  ).value
}

/** A user's profile and presence. */
export const useUser = (identity: string): UserSnapshot =>
  useReady(keyOf('user', identity), (client) => plain<UserSnapshot | null>(null, userSource(client, identity))).value!
