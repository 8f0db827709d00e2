import { encodeToken } from './protocol.ts'
import type { Transport, TransportEvents, TransportSocket } from './transport.ts'

/** The subset of the WebSocket API the transport uses (browsers, Node 22+, or the `ws` package). */
export interface WebSocketLike {
  binaryType: string
  readonly readyState: number
  send(data: Uint8Array): void
  close(code?: number, reason?: string): void
  onopen: ((event: unknown) => void) | null
  onmessage: ((event: { data: unknown }) => void) | null
  onclose: ((event: { code: number; reason: string }) => void) | null
  onerror: ((event: unknown) => void) | null
}

/** A WebSocket class: the global one, or one from a package such as `ws`. */
export type WebSocketConstructor = new (url: string) => WebSocketLike

/** Options of the WebSocket transport. */
export interface WebSocketTransportOptions {
  /** The relay's URL, e.g. `wss://chat.example.com` (the multiplexed endpoint `/`). */
  url: string
  /** The current token (read at every connect). */
  token: () => string
  /** WebSocket implementation. Default: the global one. */
  WebSocket?: WebSocketConstructor
}

/**
 * One WebSocket to the relay carrying every document (multiplexed frames). The token goes in the
 * socket's first frame, never in the URL: browsers print the URL of a WebSocket that fails to
 * connect to the console (where error trackers collect it), and proxies log request lines.
 * Always use `wss://` in production.
 */
export const createWebSocketTransport = (options: WebSocketTransportOptions): Transport => {
  const Impl = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
  if (!Impl) throw new Error('no WebSocket implementation: pass options.WebSocket')
  const reachable = new Set<() => void>()
  const live = new Set<TransportSocket>()
  const onOnline = (): void => {
    for (const l of [...reachable]) l()
  }
  // A socket can outlive the network (no traffic, no error for a long while): when the browser
  // says it is offline, close it so the app sees `disconnected` at once; `online` reconnects.
  const onOffline = (): void => {
    for (const socket of [...live]) socket.close(1000, 'browser offline')
  }
  const g = globalThis as { addEventListener?: (name: string, listener: () => void) => void }
  g.addEventListener?.('online', onOnline)
  g.addEventListener?.('offline', onOffline)
  return {
    connect(events: TransportEvents): TransportSocket {
      const url = new URL(options.url)
      if (url.pathname === '') url.pathname = '/'
      const ws = new Impl(url.toString())
      ws.binaryType = 'arraybuffer'
      let closed = false
      ws.onopen = () => {
        // Authentication first: the relay reads the first frame of a connection without a token
        // as its token, and answers with `hello` once it is verified.
        ws.send(encodeToken(options.token()))
        events.onOpen()
      }
      ws.onmessage = (event) => {
        const { data } = event
        if (data instanceof ArrayBuffer) events.onMessage(new Uint8Array(data))
        else if (ArrayBuffer.isView(data))
          events.onMessage(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
      }
      ws.onclose = (event) => {
        live.delete(socket)
        if (closed) return
        closed = true
        events.onClose(event.code, event.reason)
      }
      ws.onerror = () => {}
      const socket: TransportSocket = {
        send(data) {
          if (ws.readyState === 1) ws.send(data)
        },
        close(code, reason) {
          live.delete(socket)
          if (closed) return
          try {
            ws.close(code, reason)
          } catch {
            ws.close()
          }
          closed = true
          queueMicrotask(() => events.onClose(code ?? 1000, reason ?? ''))
        },
      }
      live.add(socket)
      return socket
    },
    onReachable(listener) {
      reachable.add(listener)
      return () => reachable.delete(listener)
    },
  }
}
