/**
 * Reading the HTTP upgrade request a WebSocket client opens with. All of it arrives from the
 * network before authentication, so nothing here may throw: what does not parse is refused with
 * a 400 answer, and the process carries on.
 */
import { STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'

/** Where an upgrade request asks to go. */
export interface UpgradeTarget {
  /** The document in the path (stock y-websocket mode), or null for the multiplexed endpoint `/`. */
  docName: string | null
  /** The request's query parameters (on a URL, for code that reads `url.searchParams`). */
  url: URL
}

/**
 * Longest request target read. Node bounds the whole head (16 KiB by default); this keeps a
 * document name from the path well under it, whatever `--max-http-header-size` says.
 */
export const MAX_TARGET_LENGTH = 4096

/** ASCII control characters: never part of a document name, and kept out of logs. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: that is the point
const CONTROL = /[\u0000-\u001f\u007f]/

/**
 * Parses the request target of an upgrade request (`/`, `/<document name>`, either with a query),
 * percent-decoding the path. Returns null for anything malformed: a bad percent-escape (or one that
 * decodes to invalid UTF-8), control characters, a target that is not a path, or one too long.
 */
export const parseUpgradeTarget = (target: string | undefined): UpgradeTarget | null => {
  if (target === undefined || target.length === 0 || target.length > MAX_TARGET_LENGTH) return null
  let raw = target
  if (!raw.startsWith('/')) {
    // Absolute form (`GET ws://host/path`), which HTTP allows; anything else (`*`, garbage) is refused.
    try {
      const absolute = new URL(raw)
      if (!['http:', 'https:', 'ws:', 'wss:'].includes(absolute.protocol)) return null
      raw = absolute.pathname + absolute.search
    } catch {
      return null
    }
  }
  const hash = raw.indexOf('#')
  if (hash !== -1) raw = raw.slice(0, hash)
  const q = raw.indexOf('?')
  const rawPath = q === -1 ? raw : raw.slice(0, q)
  let path: string
  try {
    path = decodeURIComponent(rawPath)
  } catch {
    return null
  }
  if (CONTROL.test(path)) return null
  const url = new URL('http://relay/')
  // URLSearchParams reads any string (bad escapes stay as they are): it cannot throw.
  if (q !== -1) url.search = raw.slice(q + 1)
  return { docName: path === '/' ? null : path.slice(1), url }
}

/**
 * Answers an upgrade request with a plain HTTP error and closes the socket. Used before the
 * WebSocket handshake, on a socket nobody else listens to.
 */
export const refuseUpgrade = (socket: Duplex, status: number, message: string): void => {
  // An upgraded socket has no error listener left (Node removes its own): a reset from the peer
  // while we answer would otherwise be an uncaught 'error'.
  socket.on('error', () => socket.destroy())
  if (!socket.writable) {
    socket.destroy()
    return
  }
  const body = `${message}\n`
  socket.once('finish', () => socket.destroy())
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nConnection: close\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  )
}
