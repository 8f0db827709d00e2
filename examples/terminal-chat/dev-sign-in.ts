/**
 * DEVELOPMENT ONLY: the example server (`npm start`) signs a token for any name. The last token is
 * kept next to the database, so the chat also starts while that server is down (offline).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'

export interface Kept {
  token: string
  relayUrl: string
}

export class DevSignIn {
  readonly #url: string
  readonly #identity: string
  readonly #file: string

  constructor(options: { url: string; identity: string; dbPath: string }) {
    this.#url = options.url
    this.#identity = options.identity
    this.#file = `${options.dbPath}-token`
  }

  /** Asks the example server for a token (and keeps it). */
  async signIn(): Promise<Kept> {
    const response = await fetch(this.#url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: this.#identity }),
      signal: AbortSignal.timeout(5000),
    })
    const body = (await response.json()) as { token?: string; relayUrl?: string; error?: string }
    if (!response.ok || !body.token || !body.relayUrl) throw new Error(body.error ?? `HTTP ${response.status}`)
    const kept = { token: body.token, relayUrl: body.relayUrl }
    writeFileSync(this.#file, JSON.stringify(kept), { mode: 0o600 })
    return kept
  }

  /** The token kept by the last sign-in, if any. */
  kept(): Kept | null {
    try {
      return existsSync(this.#file) ? (JSON.parse(readFileSync(this.#file, 'utf8')) as Kept) : null
    } catch {
      return null
    }
  }
}
