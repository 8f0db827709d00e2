import { cryptoRandom, type RandomSource } from './runtime.ts'

/** A conversation's id. Branded so it cannot be passed where a message id is expected. */
export type ConversationSid = string & { readonly __brand: 'ConversationSid' }
/** A message's id, unique across every conversation. */
export type MessageSid = string & { readonly __brand: 'MessageSid' }
/** A participant's id within its conversation; stable for a given identity or address. */
export type ParticipantSid = string & { readonly __brand: 'ParticipantSid' }

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'))

const hex = (bytes: Uint8Array): string => {
  let out = ''
  for (const b of bytes) out += HEX[b]
  return out
}

/** 128 random bits as hex, from the platform's CSPRNG (ids must not collide across offline devices). */
export const randomHex = (bytes = 16, random: RandomSource = cryptoRandom): string => hex(random(new Uint8Array(bytes)))

export const newConversationSid = (random?: RandomSource): ConversationSid =>
  `CH${randomHex(16, random)}` as ConversationSid
/** Whether `value` is a conversation sid as {@link newConversationSid} makes them: `CH` and 32 hex digits. */
export const isConversationSid = (value: string): value is ConversationSid =>
  value.length === 34 && CONVERSATION_SID.test(value)
const CONVERSATION_SID = /^CH[0-9a-f]{32}$/

export const newMessageSid = (random?: RandomSource): MessageSid => `IM${randomHex(16, random)}` as MessageSid

/**
 * FNV-1a over UTF-16 code units, 64 bits as two 32-bit lanes. Used to derive a participant sid from
 * its identity, so two devices adding the same person offline produce the same participant.
 */
export const stableHash = (text: string): string => {
  let h1 = 0x811c9dc5
  let h2 = 0x01000193 ^ text.length
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0
    h2 = Math.imul(h2 ^ c ^ (h1 >>> 7), 0x01000193) >>> 0
  }
  return h1.toString(16).padStart(8, '0') + h2.toString(16).padStart(8, '0')
}

export const participantSidFor = (conversation: string, key: string): ParticipantSid =>
  `MB${stableHash(`${conversation}\u0000${key}`)}` as ParticipantSid
