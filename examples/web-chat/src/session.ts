/**
 * Who is signed in, and how the client gets its relay token.
 *
 * DEVELOPMENT ONLY: tokens come from the example server's `POST /dev/token`, which signs one for
 * any name. In a real app the token comes from your backend after your own login; everything else
 * here (keeping the last token so the app opens offline, refreshing it) stays the same.
 */
import type { ClientOptions } from '../../../src/index.ts'

export interface Session {
  identity: string
  token: string
  relayUrl: string
}

const KEY = 'colloquy-web-chat:session'

export const loadSession = (): Session | null => {
  try {
    const value = JSON.parse(localStorage.getItem(KEY) ?? 'null') as Partial<Session> | null
    if (
      value &&
      typeof value.identity === 'string' &&
      typeof value.token === 'string' &&
      typeof value.relayUrl === 'string'
    )
      return value as Session
  } catch {}
  return null
}

export const saveSession = (session: Session): void => localStorage.setItem(KEY, JSON.stringify(session))

export const clearSession = (): void => localStorage.removeItem(KEY)

/** Asks the example server for a development token. */
export const requestDevToken = async (name: string): Promise<Session> => {
  const response = await fetch('/dev/token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  })
  const body = (await response.json().catch(() => ({}))) as {
    token?: string
    relayUrl?: string
    identity?: string
    error?: string
  }
  if (!response.ok || !body.token || !body.relayUrl || !body.identity)
    throw new Error(body.error ?? `sign-in failed (HTTP ${response.status})`)
  return { identity: body.identity, token: body.token, relayUrl: body.relayUrl }
}

const expiresAt = (token: string): number => {
  try {
    const payload = JSON.parse(atob(token.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/'))) as { exp?: number }
    return typeof payload.exp === 'number' ? payload.exp * 1000 : Number.POSITIVE_INFINITY
  } catch {
    return 0
  }
}

/**
 * The client's token source: the kept token while it has more than two minutes left, otherwise a
 * fresh one; when the server cannot be reached (offline), the kept one, so the app still opens and
 * works from its local store.
 */
export const tokenSource =
  (identity: string): (() => Promise<string>) =>
  async () => {
    const kept = loadSession()
    if (kept && kept.identity === identity && expiresAt(kept.token) - Date.now() > 120_000) return kept.token
    try {
      const fresh = await requestDevToken(identity)
      saveSession(fresh)
      return fresh.token
    } catch (error) {
      if (kept && kept.identity === identity) return kept.token
      throw error
    }
  }

type WebSocketLike = InstanceType<NonNullable<ClientOptions['WebSocket']>>
type CloseListener = WebSocketLike['onclose']

/**
 * The browser's WebSocket, closed as soon as the browser reports that it went offline. A socket
 * to a vanished network can otherwise look open for a long time; closing it at once shows the
 * offline banner and lets messages written now show as pending. When the network comes back,
 * the client reconnects by itself.
 */
export class OfflineAwareWebSocket implements WebSocketLike {
  onopen: WebSocketLike['onopen'] = null
  onmessage: WebSocketLike['onmessage'] = null
  onclose: CloseListener = null
  onerror: WebSocketLike['onerror'] = null
  readonly #ws: WebSocket
  #closed = false
  readonly #offline = (): void => {
    this.#ws.close()
    this.#finish(1006, 'the browser is offline')
  }

  constructor(url: string) {
    this.#ws = new WebSocket(url)
    this.#ws.onopen = (event) => this.onopen?.(event)
    this.#ws.onmessage = (event) => this.onmessage?.(event)
    this.#ws.onerror = (event) => this.onerror?.(event)
    this.#ws.onclose = (event) => this.#finish(event.code, event.reason)
    window.addEventListener('offline', this.#offline)
  }

  get binaryType(): string {
    return this.#ws.binaryType
  }
  set binaryType(value: string) {
    this.#ws.binaryType = value as BinaryType
  }
  get readyState(): number {
    return this.#closed ? WebSocket.CLOSED : this.#ws.readyState
  }
  send(data: Uint8Array): void {
    this.#ws.send(data as Uint8Array<ArrayBuffer>)
  }
  close(code?: number, reason?: string): void {
    this.#ws.close(code, reason)
  }

  #finish(code: number, reason: string): void {
    if (this.#closed) return
    this.#closed = true
    window.removeEventListener('offline', this.#offline)
    this.onclose?.({ code, reason })
  }
}
