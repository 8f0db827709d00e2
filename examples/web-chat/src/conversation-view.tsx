/**
 * One open conversation: header with participants, the message list, the typing indicator and
 * the composer. Everything on screen comes from the hooks (`useConversation`, `useMessages`,
 * `useParticipants`, `useTyping`, `useUser`); every action is a plain call on the conversation,
 * which applies locally at once — online or not.
 */
import { type FormEvent, useCallback, useEffect, useMemo, useRef, useState } from 'react'
import type { Conversation, ConversationSnapshot, ParticipantSnapshot } from '../../../src/index.ts'
import {
  useClient,
  useConnectionState,
  useConversation,
  useParticipants,
  useTyping,
  useUser,
} from '../../../src/react/index.ts'
import { Composer, type ComposerContext } from './composer.tsx'
import { nameProblem, typingText } from './format.ts'
import { type MessageActions, MessageList, type UnreadAtOpen } from './message-list.tsx'
import { Avatar, attempt, Icon, toast } from './ui.tsx'

/** Runs `action` on the conversation object (actions need it; the screen shows snapshots). */
const useOnConversation = (sid: string) => {
  const client = useClient()
  return useCallback(
    (action: (conversation: Conversation) => Promise<unknown>) =>
      attempt(async () => action(await client.getConversationBySid(sid))),
    [client, sid],
  )
}

export function ConversationView({ sid }: { sid: string }) {
  const { conversation, isLoading } = useConversation(sid)
  const onConversation = useOnConversation(sid)
  const me = useClient().identity
  const [context, setContext] = useState<ComposerContext>(null)
  // What was unread when the conversation opened (null: nothing): where the "New messages"
  // divider goes. Messages that arrive while it is open are read at once and get none.
  const [unreadAtOpen, setUnreadAtOpen] = useState<UnreadAtOpen | null | undefined>(undefined)
  const atOpen = conversation === null ? null : unreadOf(conversation)
  useEffect(() => {
    if (atOpen !== null && unreadAtOpen === undefined) setUnreadAtOpen(atOpen)
  }, [atOpen, unreadAtOpen])

  useMarkRead(sid, conversation?.status === 'joined' ? conversation.unreadMessageCount : 0)

  // Leaving (or being removed) takes the conversation away: back to the list.
  const wasShown = useRef(false)
  useEffect(() => {
    if (conversation !== null) wasShown.current = true
    else if (wasShown.current && location.hash === `#/c/${sid}`) location.hash = '#/'
  }, [conversation, sid])

  const actions = useMemo<MessageActions>(
    () => ({
      reply: (m) => setContext({ kind: 'reply', message: m }),
      edit: (m) => setContext({ kind: 'edit', message: m }),
      remove: (m) => onConversation(async (c) => (await c.getMessageBySid(m.id)).remove()),
      toggleReaction: (m, emoji, mine) =>
        onConversation(async (c) => {
          const message = await c.getMessageBySid(m.id)
          await (mine ? message.unreact(emoji) : message.react(emoji))
        }),
    }),
    [onConversation],
  )

  if (conversation === null) {
    return (
      <div className="placeholder" data-testid="conversation-waiting">
        <h2>{isLoading ? 'Opening this conversation…' : 'Waiting for this conversation…'}</h2>
        <p>{sid}</p>
      </div>
    )
  }
  return (
    <section className="conversation" data-testid="conversation-view" data-sid={sid}>
      <header className="conversation-header">
        <a className="back" href="#/" title="All conversations">
          ‹
        </a>
        <div className="titles">
          <h2 data-testid="conversation-title">{conversation.friendlyName ?? 'Untitled conversation'}</h2>
          <People sid={sid} me={me} isAdmin={conversation.role === 'admin'} />
        </div>
        <AddPerson sid={sid} />
      </header>
      <MessageList
        sid={sid}
        me={me}
        unreadAtOpen={unreadAtOpen === undefined ? unreadOf(conversation) : unreadAtOpen}
        actions={actions}
      />
      <footer className="composer-area">
        <Typing sid={sid} />
        <Composer sid={sid} context={context} onContextChange={setContext} />
      </footer>
    </section>
  )
}

/** My read horizon, when some messages are unread. */
const unreadOf = (c: ConversationSnapshot): UnreadAtOpen | null =>
  c.unreadMessageCount > 0 ? { readUntil: c.readUntil } : null

/** Everything shown is read while the page is visible. */
const useMarkRead = (sid: string, unread: number): void => {
  const onConversation = useOnConversation(sid)
  const [visible, setVisible] = useState(document.visibilityState === 'visible')
  useEffect(() => {
    const update = () => setVisible(document.visibilityState === 'visible')
    document.addEventListener('visibilitychange', update)
    return () => document.removeEventListener('visibilitychange', update)
  }, [])
  useEffect(() => {
    if (unread > 0 && visible) onConversation((c) => c.setAllMessagesRead())
  }, [unread, visible, onConversation])
}

function Typing({ sid }: { sid: string }) {
  const text = typingText(useTyping(sid))
  return (
    <div className={`typing${text ? ' active' : ''}`} data-testid="typing-indicator" aria-live="polite">
      {text}
    </div>
  )
}

function People({ sid, me, isAdmin }: { sid: string; me: string; isAdmin: boolean }) {
  const { participants } = useParticipants(sid, { limit: 50 })
  const people = participants
    .filter((p): p is ParticipantSnapshot & { identity: string } => p.type === 'chat' && p.identity !== null)
    .sort((a, b) => (a.identity === me ? -1 : b.identity === me ? 1 : a.identity < b.identity ? -1 : 1))
  return (
    <>
      <div className="subtitle">
        {people.length} {people.length === 1 ? 'person' : 'people'}
      </div>
      <ul className="people" data-testid="participant-list">
        {people.map((p) => (
          <Person key={p.sid} sid={sid} identity={p.identity} me={me} canRemove={isAdmin && p.identity !== me} />
        ))}
      </ul>
    </>
  )
}

function Person({ sid, identity, me, canRemove }: { sid: string; identity: string; me: string; canRemove: boolean }) {
  const { user } = useUser(identity)
  const connection = useConnectionState()
  const onConversation = useOnConversation(sid)
  const isMe = identity === me
  const online = isMe ? (connection === 'connected' ? true : null) : (user?.isOnline ?? null)
  const presence = online === null ? 'unknown' : online ? 'online' : 'offline'
  return (
    <li data-testid="participant" data-identity={identity} data-presence={presence} title={`${identity} — ${presence}`}>
      <Avatar name={identity} size="tiny" />
      <span className={`presence ${presence}`} />
      {isMe ? 'you' : identity}
      {canRemove && (
        <button
          type="button"
          className="icon remove-person"
          data-testid="remove-participant"
          title={`Remove ${identity} from this conversation`}
          aria-label={`Remove ${identity}`}
          onClick={() =>
            onConversation(async (c) => {
              await c.removeParticipant(identity)
              toast(`Removed ${identity}`, 'info')
            })
          }
        >
          <Icon name="close" size={12} />
        </button>
      )}
    </li>
  )
}

/**
 * Adds someone by name. Only names someone can sign in with are accepted (the example server's
 * rule), so a typo cannot add a person who will never read anything (and keep every message from
 * showing as read by everyone); a mistaken add can be undone with the × on the person.
 */
function AddPerson({ sid }: { sid: string }) {
  const [name, setName] = useState('')
  const [problem, setProblem] = useState<string | null>(null)
  const { participants } = useParticipants(sid, { limit: 50 })
  const onConversation = useOnConversation(sid)
  const submit = (event: FormEvent) => {
    event.preventDefault()
    const who = name.trim().toLowerCase()
    if (!who) return
    const wrong = nameProblem(who) ?? (participants.some((p) => p.identity === who) ? `${who} is already here.` : null)
    setProblem(wrong)
    if (wrong) return
    onConversation(async (c) => {
      await c.add(who)
      setName('')
      toast(`Added ${who}`, 'info')
    })
  }
  return (
    <form className="add-person" onSubmit={submit} noValidate>
      <input
        data-testid="add-participant-input"
        placeholder="Add a person"
        autoComplete="off"
        aria-label="Name of the person to add"
        aria-invalid={problem !== null}
        maxLength={64}
        value={name}
        onChange={(e) => {
          setName(e.target.value)
          setProblem(null)
        }}
      />
      <button type="submit" data-testid="add-participant-button">
        Add
      </button>
      {problem && (
        <p className="field-error" data-testid="add-participant-error" role="alert">
          {problem}
        </p>
      )}
    </form>
  )
}
