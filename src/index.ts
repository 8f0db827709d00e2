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
} from './client/client.js'
export {
  type AddParticipantOptions,
  Conversation,
  type ConversationEvents,
  type ConversationLimits,
  type ConversationState,
  type ConversationStatus,
  type ConversationUpdateReason,
  type SendMessageInput,
} from './client/conversation.js'
export {
  type AggregatedDeliveryReceipt,
  type DeliveryStatus,
  Message,
  type MessageEvents,
  type MessageUpdateReason,
  type ReactionSummary,
} from './client/message.js'
export { Paginator } from './client/paginator.js'
export {
  Participant,
  type ParticipantEvents,
  type ParticipantUpdateReason,
} from './client/participant.js'
export {
  type ConversationListSubscription,
  type ConversationSnapshot,
  ListSubscription,
  LiveSubscription,
  type MessageSnapshot,
  type ParticipantSnapshot,
  type SubscriptionState,
  type TypingSnapshot,
} from './client/subscriptions.js'
export { User, type UserEvents, type UserUpdateReason } from './client/user.js'
export { ColloquyError, type ErrorCode } from './errors.js'
export type { ConversationSid, MessageSid, ParticipantSid } from './ids.js'
export type { ContentBlock, FileBlock, FileSubtype, LocationBlock, TextBlock } from './schema/content.js'
export type { JsonObject, JsonValue } from './schema/json.js'
export type { Access, ConversationStateName, ParticipantType, Role } from './schema/layout.js'
export { DEFAULT_PAGE_SIZE, DEFAULT_TYPING_TIMEOUT, LIMITS } from './schema/limits.js'
export type { NotificationLevel } from './schema/validate.js'
export type { StorageAdapter } from './storage/adapter.js'
export { createMemoryStorage, MemoryStorage } from './storage/memory.js'
export type { ConnectionState } from './sync/sync-client.js'
export { CloseCode, type Transport, type TransportEvents, type TransportSocket } from './sync/transport.js'
