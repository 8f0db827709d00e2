/**
 * colloquy: conversations, participants, messages, read state, typing and users — self-hosted
 * and local-first. Start with `Client.create`.
 */
export {
  Client,
  type ClientEvents,
  type ClientOptions,
  type CreateConversationOptions,
  type FeedQuery,
} from './client/client.ts'
export {
  type AddParticipantOptions,
  Conversation,
  type ConversationEvents,
  type ConversationLimits,
  type ConversationState,
  type ConversationStatus,
  type ConversationUpdateReason,
  type SendMessageInput,
} from './client/conversation.ts'
export {
  type AggregatedDeliveryReceipt,
  type DeliveryStatus,
  Message,
  type MessageEvents,
  type MessageUpdateReason,
  type ReactionSummary,
} from './client/message.ts'
export { Paginator } from './client/paginator.ts'
export {
  Participant,
  type ParticipantEvents,
  type ParticipantUpdateReason,
} from './client/participant.ts'
export {
  type ConversationListSubscription,
  type ConversationSnapshot,
  ListSubscription,
  LiveSubscription,
  type MessageSnapshot,
  type ParticipantSnapshot,
  type SubscriptionState,
  type TypingSnapshot,
} from './client/subscriptions.ts'
export { User, type UserEvents, type UserUpdateReason } from './client/user.ts'
export { ColloquyError, type ErrorCode } from './errors.ts'
export type { ConversationSid, MessageSid, ParticipantSid } from './ids.ts'
export type { ContentBlock, FileBlock, FileSubtype, LocationBlock, TextBlock } from './schema/content.ts'
export type { JsonObject, JsonValue } from './schema/json.ts'
export type { Access, ConversationStateName, ParticipantType, Role } from './schema/layout.ts'
export { DEFAULT_PAGE_SIZE, DEFAULT_TYPING_TIMEOUT, LIMITS } from './schema/limits.ts'
export type { NotificationLevel } from './schema/validate.ts'
export type { StorageAdapter } from './storage/adapter.ts'
export { createMemoryStorage, MemoryStorage } from './storage/memory.ts'
export type { ConnectionState } from './sync/sync-client.ts'
export { CloseCode, type Transport, type TransportEvents, type TransportSocket } from './sync/transport.ts'
