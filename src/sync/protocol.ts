import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import * as syncProtocol from 'y-protocols/sync'

/**
 * The wire format. Each frame carries one y-websocket message for one document:
 *
 *     frame   = varString(docName) message
 *     message = varUint(type) payload        (y-websocket's message, byte for byte)
 *
 * so one socket multiplexes every document a client syncs. See docs/protocol.md.
 */
export const MessageType = {
  /** y-protocols sync: step 1 (state vector), step 2 (missing updates), update. */
  sync: 0,
  /** y-protocols awareness update. */
  awareness: 1,
  /** y-protocols auth: `varUint(0) varString(reason)` = permission denied for this document. */
  auth: 2,
  /** Ask the peer to send its awareness states. */
  queryAwareness: 3,
  /** Client → relay: stop syncing this document on this socket. */
  unsubscribe: 100,
  /**
   * Relay → client: `varString(reason)`, the relay does not serve this document for now (say, a
   * conversation it cannot recover after a restore). Unlike `auth`, it says nothing about access:
   * the client keeps its copy (clients that do not know the frame ignore it).
   */
  unavailable: 110,
} as const

/**
 * Control frames travel on the empty document name: `varString('') varUint(type) payload`.
 */
export const ControlType = {
  /** Client → relay: `varString(token)`, a fresh token for this connection (same identity). */
  refreshToken: 200,
} as const

/** A token-refresh control frame. */
export const encodeRefreshToken = (token: string): Uint8Array => {
  const encoder = startFrame('', ControlType.refreshToken)
  encoding.writeVarString(encoder, token)
  return encoding.toUint8Array(encoder)
}

/** Starts a frame for `docName` with message `type`; the caller writes the payload. */
export const startFrame = (docName: string, type: number): encoding.Encoder => {
  const encoder = encoding.createEncoder()
  encoding.writeVarString(encoder, docName)
  encoding.writeVarUint(encoder, type)
  return encoder
}

/** A decoded frame header; `decoder` is positioned at the payload. */
export interface FrameHeader {
  docName: string
  type: number
  decoder: decoding.Decoder
}

/** Reads a frame's header. Throws on truncated or malformed input. */
export const readFrame = (data: Uint8Array): FrameHeader => {
  const decoder = decoding.createDecoder(data)
  const docName = decoding.readVarString(decoder)
  const type = decoding.readVarUint(decoder)
  return { docName, type, decoder }
}

/** A permission-denied frame for `docName`. */
export const encodeDenied = (docName: string, reason: string): Uint8Array => {
  const encoder = startFrame(docName, MessageType.auth)
  encoding.writeVarUint(encoder, 0)
  encoding.writeVarString(encoder, reason)
  return encoding.toUint8Array(encoder)
}

/** An unavailable frame for `docName` (see {@link MessageType.unavailable}). */
export const encodeUnavailable = (docName: string, reason: string): Uint8Array => {
  const encoder = startFrame(docName, MessageType.unavailable)
  encoding.writeVarString(encoder, reason)
  return encoding.toUint8Array(encoder)
}

/** A sync frame carrying the Yjs update `update` (y-websocket's "update" message). */
export const encodeUpdateFrame = (docName: string, update: Uint8Array): Uint8Array => {
  const encoder = startFrame(docName, MessageType.sync)
  syncProtocol.writeUpdate(encoder, update)
  return encoding.toUint8Array(encoder)
}

/** An awareness frame. */
export const encodeAwarenessFrame = (docName: string, update: Uint8Array): Uint8Array => {
  const encoder = startFrame(docName, MessageType.awareness)
  encoding.writeVarUint8Array(encoder, update)
  return encoding.toUint8Array(encoder)
}
