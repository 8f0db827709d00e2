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
   * Relay → client: `varUint(code) varString(reason)`, something this client sent for this
   * document was refused (`RefusalCode`); the socket stays open and the other documents go on.
   * The relay drops the client's frames for the document until it sends a sync step 1 again.
   */
  refused: 101,
  /**
   * Relay → client: `varString(reason)`, the relay does not serve this document for now (say, a
   * conversation it cannot recover after a restore). Unlike `auth`, it says nothing about access:
   * the client keeps its copy (clients that do not know the frame ignore it).
   */
  unavailable: 110,
} as const

/**
 * Why a document was refused in a `refused` frame. The values follow the close codes of the same
 * meaning (4422, 4429) without their "close the socket" range.
 */
export const RefusalCode = {
  /** An update broke a rule: nothing of it was stored; drop the refused state and sync again. */
  update: 422,
  /** A limit: the document is not synced on this connection (too many documents on it). */
  limit: 429,
} as const

/**
 * The largest frame a relay accepts unless configured otherwise, and what a client assumes until
 * the relay says otherwise (the `hello` control frame).
 */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024

/** Bytes a token frame may have: a token is at most 8,192 characters (of base64url: one byte each). */
export const MAX_TOKEN_FRAME_BYTES = 8192 + 8

/**
 * Control frames travel on the empty document name: `varString('') varUint(type) payload`.
 */
export const ControlType = {
  /**
   * Client → relay: `varString(token)`. As the first frame of a connection opened without a token,
   * it authenticates the connection (the relay answers with `hello`); later, it is a fresh token
   * for the same identity.
   */
  token: 200,
  /**
   * Relay → client, the answer to a first-frame token once it is verified: `varUint(maxFrameBytes)`,
   * the largest frame the relay accepts. Fields may be appended later; readers ignore the rest.
   */
  hello: 201,
} as const

/** A token control frame (first-frame authentication, or a refresh). */
export const encodeToken = (token: string): Uint8Array => {
  const encoder = startFrame('', ControlType.token)
  encoding.writeVarString(encoder, token)
  return encoding.toUint8Array(encoder)
}

/** @deprecated the same frame as `encodeToken` (kept for callers of the refresh-only name). */
export const encodeRefreshToken = encodeToken

/** The relay's `hello` frame. */
export const encodeHello = (maxFrameBytes: number): Uint8Array => {
  const encoder = startFrame('', ControlType.hello)
  encoding.writeVarUint(encoder, maxFrameBytes)
  return encoding.toUint8Array(encoder)
}

/** A refusal for `docName` (see `MessageType.refused`). */
export const encodeRefused = (docName: string, code: number, reason: string): Uint8Array => {
  const encoder = startFrame(docName, MessageType.refused)
  encoding.writeVarUint(encoder, code)
  encoding.writeVarString(encoder, reason)
  return encoding.toUint8Array(encoder)
}

/** Bytes a frame for `docName` spends around a Yjs update of `updateBytes` (name, types, length). */
export const updateFrameOverhead = (docName: string): number =>
  // varString(name): at most 5 bytes of length, then UTF-8 (up to 3 bytes per UTF-16 unit);
  // type and sync step: 1 byte each; the update's length: at most 5 bytes.
  5 + docName.length * 3 + 2 + 5

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
