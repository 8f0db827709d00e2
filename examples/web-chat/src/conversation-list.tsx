/** My conversations, most recently active first, with their last message and unread count. */
import { memo } from 'react'
import type { ConversationSnapshot } from '../../../src/index.ts'
import { useClient, useConversations } from '../../../src/react/index.ts'
import { excerpt, shortTime } from './format.ts'
import { Avatar, attempt } from './ui.tsx'

export function ConversationList({ openSid }: { openSid: string | null }) {
  const { conversations, loadedAll, loadMore, isLoading } = useConversations({ limit: 30 })
  const me = useClient().identity
  return (
    <>
      <ul className="conversations" data-testid="conversation-list">
        {!isLoading && conversations.length === 0 && (
          <li className="empty">No conversations yet. Create one, then add people by name.</li>
        )}
        {conversations.map((c) => (
          <Item key={c.id} conversation={c} me={me} selected={c.id === openSid} />
        ))}
      </ul>
      <button type="button" className="more" hidden={loadedAll} onClick={() => attempt(() => loadMore())}>
        More conversations
      </button>
    </>
  )
}

/** One row; snapshots keep their identity while unchanged, so only changed rows render. */
const Item = memo(function Item({
  conversation: c,
  me,
  selected,
}: {
  conversation: ConversationSnapshot
  me: string
  selected: boolean
}) {
  const name = c.friendlyName ?? 'Untitled conversation'
  const last = c.lastMessage
  const preview = last ? `${last.author === me ? 'You' : last.author}: ${excerpt(last)}` : 'No messages yet'
  return (
    <li
      data-testid="conversation-item"
      data-sid={c.id}
      data-name={name}
      data-unread={c.unreadMessageCount}
      className={selected ? 'selected' : undefined}
    >
      <a href={`#/c/${c.id}`} className="conversation-link" aria-current={selected ? 'page' : undefined}>
        <Avatar name={name} />
        <span className="conversation-text">
          <span className="row">
            <span className="name">{name}</span>
            <time className="when">{shortTime(c.lastActivityAt)}</time>
          </span>
          <span className="row">
            <span className="preview" data-testid="conversation-preview">
              {preview}
            </span>
            {c.unreadMessageCount > 0 && (
              <span className="badge" data-testid="unread-count" title={`${c.unreadMessageCount} unread`}>
                {c.unreadMessageCount}
              </span>
            )}
          </span>
        </span>
      </a>
    </li>
  )
})
