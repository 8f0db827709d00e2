/**
 * The signed-in screen: top bar with the connection state, the conversation list and the open
 * conversation. The URL hash (`#/c/<sid>`) says which conversation is open, so a reload — even
 * offline — comes back to it.
 */
import { type FormEvent, useEffect, useState, useSyncExternalStore } from 'react'
import type { ConnectionState } from '../../../src/index.ts'
import { useClient, useConnectionState, useConversations, useUnreadCount } from '../../../src/react/index.ts'
import { ConversationList } from './conversation-list.tsx'
import { ConversationView } from './conversation-view.tsx'
import { Avatar, attempt } from './ui.tsx'

const CONNECTION_TEXT: Record<ConnectionState, string> = {
  connected: 'Online',
  connecting: 'Connecting…',
  disconnecting: 'Offline',
  disconnected: 'Offline',
  denied: 'Not allowed',
}

const onHashChange = (listener: () => void) => {
  window.addEventListener('hashchange', listener)
  return () => window.removeEventListener('hashchange', listener)
}

/** The conversation the URL names, or null. */
const useOpenSid = (): string | null => {
  const hash = useSyncExternalStore(onHashChange, () => location.hash)
  const match = /^#\/c\/(.+)$/.exec(hash)
  return match ? decodeURIComponent(match[1]!) : null
}

/** How many times the client connected, and whether it ever did (shown as `data-connects`). */
const useConnects = (): { connects: number; everConnected: boolean } => {
  const client = useClient()
  const [connects, setConnects] = useState(client.connectionState === 'connected' ? 1 : 0)
  useEffect(
    () =>
      client.on('connectionStateChanged', (state) => {
        if (state === 'connected') setConnects((n) => n + 1)
      }),
    [client],
  )
  return { connects, everConnected: connects > 0 }
}

export function ChatApp({ onSignOut }: { onSignOut: () => void }) {
  const client = useClient()
  const me = client.identity
  const openSid = useOpenSid()
  const state = useConnectionState()
  const { connects, everConnected } = useConnects()
  const unread = useUnreadCount()
  useEffect(() => {
    document.title = unread > 0 ? `(${unread}) colloquy chat` : 'colloquy chat'
  }, [unread])

  const connectionText = state === 'connecting' && everConnected ? 'Reconnecting…' : CONNECTION_TEXT[state]
  const online = state === 'connected'
  const shownState = online ? 'online' : state === 'denied' ? 'denied' : 'offline'
  const banner =
    state === 'denied'
      ? 'The relay refused this sign-in. Sign out and in again.'
      : everConnected || !navigator.onLine
        ? 'You are offline. Keep reading and writing: messages are kept on this device and sent when the connection returns.'
        : 'Connecting to the relay… Everything stored on this device is already here.'

  return (
    <div className={`app${openSid !== null ? ' has-conversation' : ''}`} data-testid="chat-app" data-identity={me}>
      <header className="topbar">
        <span className="brand">colloquy</span>
        <span
          className="dev-badge"
          data-testid="dev-badge"
          title="Development sign-in: no passwords. Never deploy this."
        >
          DEV
        </span>
        <span
          className="connection"
          data-testid="connection-status"
          role="status"
          data-state={shownState}
          data-connection={state}
          data-connects={connects}
          title={connectionText}
        >
          <span className="connection-text">{connectionText}</span>
        </span>
        <span className="spacer" />
        <span className="me" data-testid="signed-in-as" title={`Signed in as ${me}`}>
          <Avatar name={me} size="tiny" />
          <span className="me-name">{me}</span>
        </span>
        <button type="button" className="link sign-out" data-testid="sign-out" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <div className="banner" data-testid="offline-banner" data-state={shownState} hidden={online}>
        {banner}
      </div>
      <div className="layout">
        <aside className="sidebar">
          <NewConversation />
          <ConversationList openSid={openSid} />
        </aside>
        <main className="main">
          {openSid === null ? <Placeholder /> : <OpenConversation key={openSid} sid={openSid} />}
        </main>
      </div>
    </div>
  )
}

function NewConversation() {
  const client = useClient()
  const [name, setName] = useState('')
  const create = (event: FormEvent) => {
    event.preventDefault()
    const friendlyName = name.trim()
    if (!friendlyName) return
    attempt(async () => {
      const conversation = await client.createConversation({ friendlyName, join: true })
      setName('')
      location.hash = `#/c/${conversation.sid}`
    })
  }
  return (
    <form className="new-conversation" onSubmit={create}>
      <input
        data-testid="new-conversation-input"
        placeholder="New conversation"
        autoComplete="off"
        aria-label="Name of the new conversation"
        value={name}
        onChange={(e) => setName(e.target.value)}
      />
      <button type="submit" className="primary" data-testid="new-conversation-button">
        Create
      </button>
    </form>
  )
}

function Placeholder() {
  const { conversations, isLoading } = useConversations({ limit: 1 })
  return (
    <div className="placeholder" data-testid="placeholder">
      {isLoading || conversations.length > 0 ? (
        <>
          <h2>Pick a conversation</h2>
          <p>or create one on the left and add people by name.</p>
        </>
      ) : (
        <>
          <h2>Welcome!</h2>
          <p>Create a conversation on the left, then add people by name.</p>
        </>
      )}
      <p className="hint">Everything is kept on this device: the app opens and sends even without a network.</p>
    </div>
  )
}

/**
 * The conversation of the URL. One this device does not have yet (added while the page was open,
 * or a link from elsewhere) is waited for; the view opens once the list has it.
 */
function OpenConversation({ sid }: { sid: string }) {
  const { conversations } = useConversations({ limit: 30 })
  const known = conversations.some((c) => c.id === sid)
  return <ConversationView key={known ? 'known' : 'waiting'} sid={sid} />
}
