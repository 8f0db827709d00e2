/** What a transport tells the client about its socket. */
export interface TransportEvents {
  onOpen(): void
  onMessage(data: Uint8Array): void
  /** The socket closed; `code` follows WebSocket close codes (4400–4499: do not reconnect). */
  onClose(code: number, reason: string): void
}

/** One open (or opening) socket. */
export interface TransportSocket {
  send(data: Uint8Array): void
  close(code?: number, reason?: string): void
}

/**
 * How a client reaches the relay. The relay issue provides a WebSocket transport; `colloquy/testing`
 * provides an in-process network whose links the test controls. Both carry the same frames.
 */
export interface Transport {
  /** Opens a socket. Events fire asynchronously (never inside `connect`); `onOpen` comes before messages. */
  connect(events: TransportEvents): TransportSocket
  /**
   * Optional: calls `listener` when reconnecting is worth trying now (network back, link healed),
   * so the client need not wait out its backoff. Returns an unsubscribe function.
   */
  onReachable?(listener: () => void): () => void
}

/** Close codes shared by the relay and the client. 4400–4499 are final: the client does not reconnect. */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  /** Missing, malformed or badly signed token. */
  unauthorized: 4401,
  /** Token expired. The client refreshes it and reconnects. */
  tokenExpired: 4403,
  /**
   * An update was refused (validation), on a connection that cannot read `refused` frames (its
   * token came in the URL: stock clients, older ones). The client drops it and resyncs.
   */
  updateRejected: 4422,
  /** A limit was exceeded (rate, data before authentication, connections; documents, as for 4422). */
  limitExceeded: 4429,
  /** Protocol violation (malformed frame). */
  protocolError: 4400,
} as const
