/**
 * `colloquy/react`: a provider and hooks over colloquy's live windows (React 18 or 19).
 * Components asking the same thing share one window; a component renders only when what its hook
 * returns changed; every window is released when the last component using it unmounts.
 * For hooks that suspend until their first snapshot, import `colloquy/react/suspense`.
 */
export {
  type ListOptions,
  type LiveList,
  type LiveState,
  type SendMessage,
  useConnectionState,
  useConversation,
  useConversations,
  useMessages,
  useParticipants,
  useSendMessage,
  useTyping,
  useUnreadCount,
  useUser,
} from './hooks.ts'
export { ColloquyProvider, type ColloquyProviderProps, useClient } from './provider.ts'
export type { ConversationRef, LoadMore, UserSnapshot } from './sources.ts'
