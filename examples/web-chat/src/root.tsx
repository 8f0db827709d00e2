/**
 * Signed out: the sign-in form. Signed in: the chat, inside a `ColloquyProvider` that creates the
 * client for this person (and shuts it down on sign-out). A new token after the relay refused the
 * old one starts a new provider (its `key`).
 */
import { Component, type ReactNode, useCallback, useEffect, useMemo, useState } from 'react'
import { ColloquyProvider, useClient } from '../../../src/react/index.ts'
import { createIndexedDbStorage } from '../../../src/storage/indexeddb.ts'
import { ChatApp } from './chat-app.tsx'
import { Login } from './login.tsx'
import {
  clearSession,
  loadSession,
  OfflineAwareWebSocket,
  requestDevToken,
  type Session,
  saveSession,
  tokenSource,
} from './session.ts'

export function Root() {
  const [session, setSession] = useState<Session | null>(loadSession)
  // Bumped to open a new client for the same person (a fresh token).
  const [generation, setGeneration] = useState(0)
  const signOut = useCallback(() => {
    clearSession()
    location.hash = ''
    setSession(null)
  }, [])
  const renew = useCallback(async (identity: string) => {
    try {
      const fresh = await requestDevToken(identity)
      saveSession(fresh)
      setSession(fresh)
      setGeneration((n) => n + 1)
    } catch (error) {
      console.warn('colloquy: could not renew the sign-in', error)
    }
  }, [])
  if (session === null) return <Login onSignedIn={setSession} />
  return (
    <OpenFailed key={`${session.identity}:${generation}`} onSignOut={signOut}>
      <SignedIn session={session} onSignOut={signOut} onRenew={renew} />
    </OpenFailed>
  )
}

function SignedIn({
  session,
  onSignOut,
  onRenew,
}: {
  session: Session
  onSignOut: () => void
  onRenew: (identity: string) => Promise<void>
}) {
  // Read once when the provider mounts: one set of databases per person, so two people sharing a
  // browser never mix their data.
  const options = useMemo(
    () => ({
      relayUrl: session.relayUrl,
      token: tokenSource(session.identity),
      storage: createIndexedDbStorage({ prefix: `colloquy-web-chat:${session.identity}:` }),
      WebSocket: OfflineAwareWebSocket,
    }),
    [session],
  )
  return (
    <ColloquyProvider options={options} fallback={<div className="loading">Opening your conversations…</div>}>
      <ClientEvents onRenew={onRenew} />
      <ChatApp onSignOut={onSignOut} />
    </ColloquyProvider>
  )
}

/** What the client reports outside the screens: errors, and a relay that refuses the token. */
function ClientEvents({ onRenew }: { onRenew: (identity: string) => Promise<void> }) {
  const client = useClient()
  useEffect(() => {
    const offs = [
      client.on('error', (error) => console.warn('colloquy:', error)),
      client.on('connectionError', ({ code, message }) => {
        console.warn(`colloquy: the relay closed the connection (${code} ${message})`)
        // 4401: the token is not valid here (say, the server's secret changed). Get a new one and reopen.
        if (code === 4401 && navigator.onLine) void onRenew(client.identity)
      }),
    ]
    return () => {
      for (const off of offs) off()
    }
  }, [client, onRenew])
  return null
}

/** Shown when the client cannot be opened. */
class OpenFailed extends Component<{ children: ReactNode; onSignOut: () => void }, { error: unknown }> {
  override state: { error: unknown } = { error: null }
  static getDerivedStateFromError(error: unknown) {
    return { error }
  }
  override componentDidCatch(error: unknown) {
    console.error(error)
  }
  override render() {
    const { error } = this.state
    if (error === null) return this.props.children
    return (
      <div className="login-screen">
        <div className="login">
          <h1>Could not open the chat</h1>
          <p className="error">{error instanceof Error ? error.message : String(error)}</p>
          <button type="button" className="primary" onClick={this.props.onSignOut}>
            Sign in again
          </button>
        </div>
      </div>
    )
  }
}
