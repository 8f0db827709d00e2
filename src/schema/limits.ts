/**
 * Documented limits. Every value here is enforced on the client with an `INVALID_ARGUMENT` or
 * `LIMIT_EXCEEDED` error, and (for what reaches the network) by the relay.
 */
export const LIMITS = {
  /** Identities and unique names: 1–256 characters. */
  identityLength: 256,
  uniqueNameLength: 256,
  friendlyNameLength: 256,
  /** A message body: 32 KiB of UTF-8. */
  messageBodyBytes: 32 * 1024,
  /** Attributes (custom data) of any object, serialized as JSON: 16 KiB. */
  attributesBytes: 16 * 1024,
  /** Content blocks per message. */
  contentBlocks: 10,
  /** An emoji (or `:custom:` name) for a reaction: 1–50 characters. */
  emojiLength: 50,
  /** Distinct emoji on one message. */
  distinctReactions: 50,
  /** Welcome messages on one conversation. */
  welcomeMessages: 20,
  /** Page sizes for `getMessages` and list pages. */
  maxPageSize: 100,
  /** A URL (photo, file): 2,048 characters. */
  urlLength: 2048,
} as const

/** Default typing timeout in milliseconds (Twilio's SDK default; receivers end typing one second later). */
export const DEFAULT_TYPING_TIMEOUT = 5000
/** Default page size of `getMessages`. */
export const DEFAULT_PAGE_SIZE = 30
