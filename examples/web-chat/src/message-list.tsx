/**
 * The messages of the open conversation, oldest at the top: the newest 30 (`useMessages`), older
 * ones on demand, with a separator for each day, a "New messages" divider above what was unread
 * when the conversation opened, and a tombstone where messages were deleted.
 */
import { type ReactNode, useCallback, useLayoutEffect, useRef } from 'react'
import type { MessageSnapshot } from '../../../src/index.ts'
import { useMessages } from '../../../src/react/index.ts'
import { dayKey, dayLabel } from './format.ts'
import { MessageRow } from './message.tsx'
import { attempt, toast } from './ui.tsx'

const PAGE = 30

/** What was unread when the conversation opened: others' messages after my read horizon (null: none read). */
export interface UnreadAtOpen {
  readonly readUntil: number | null
}

/** What a message's buttons do. */
export interface MessageActions {
  reply(message: MessageSnapshot): void
  edit(message: MessageSnapshot): void
  remove(message: MessageSnapshot): void
  toggleReaction(message: MessageSnapshot, emoji: string, mine: boolean): void
}

const tombstone = (key: string, count: number): ReactNode => (
  <li key={key} className="tombstone" data-testid="message-tombstone">
    {count === 1 ? 'This message was deleted' : `${count} messages were deleted`}
  </li>
)

export function MessageList({
  sid,
  me,
  unreadAtOpen,
  actions,
}: {
  sid: string
  me: string
  /** Null when nothing was unread: no divider. */
  unreadAtOpen: UnreadAtOpen | null
  actions: MessageActions
}) {
  const { messages, loadedAll, loadMore, isLoading } = useMessages(sid, { limit: PAGE })
  const scroller = useRef<HTMLDivElement>(null)
  const nearBottom = useRef(true)
  const keepFromBottom = useRef<number | null>(null)
  const lastNewest = useRef<string | null>(null)
  // The highest index shown so far: a deleted newest message leaves no gap to see, only this.
  const highestSeen = useRef<number>(-1)

  const jumpTo = useCallback((id: string): void => {
    const target = scroller.current?.querySelector<HTMLElement>(`[data-testid="message"][data-id="${CSS.escape(id)}"]`)
    if (!target) {
      toast('That message is further back — load older messages to see it', 'info')
      return
    }
    target.scrollIntoView({ block: 'center', behavior: 'smooth' })
    target.classList.add('flash')
    setTimeout(() => target.classList.remove('flash'), 1200)
  }, [])

  const items = [...messages].reverse()
  const rows: ReactNode[] = []
  let prev: MessageSnapshot | undefined
  let prevIndex: number | null = null
  let dividerShown = false
  for (const m of items) {
    if (prev === undefined || dayKey(prev.createdAt) !== dayKey(m.createdAt)) {
      rows.push(
        <li key={`day-${dayKey(m.createdAt)}-${m.id}`} className="day-separator" data-testid="date-separator">
          <span>{dayLabel(m.createdAt)}</span>
        </li>,
      )
    }
    if (m.index !== null && prevIndex !== null && m.index > prevIndex + 1)
      rows.push(tombstone(`gone-${m.id}`, m.index - prevIndex - 1))
    const horizon = unreadAtOpen?.readUntil ?? null
    const unread =
      unreadAtOpen !== null && m.author !== me && m.index !== null && (horizon === null || m.index > horizon)
    if (unread && !dividerShown) {
      dividerShown = true
      rows.push(
        <li key="unread-divider" className="unread-divider" data-testid="unread-divider">
          <span>New messages</span>
        </li>,
      )
    }
    const showAuthor = prev === undefined || prev.author !== m.author || m.createdAt - prev.createdAt > 5 * 60_000
    rows.push(<MessageRow key={m.id} message={m} me={me} showAuthor={showAuthor} actions={actions} onJump={jumpTo} />)
    if (m.index !== null) prevIndex = m.index
    prev = m
  }
  const highest = prevIndex ?? -1
  if (highestSeen.current > highest && highest >= 0) rows.push(tombstone('gone-end', highestSeen.current - highest))

  useLayoutEffect(() => {
    highestSeen.current = Math.max(highestSeen.current, highest)
    const s = scroller.current
    if (!s) return
    const newest = items[items.length - 1]
    const mineNew = newest !== undefined && newest.id !== lastNewest.current && newest.author === me
    lastNewest.current = newest?.id ?? null
    if (keepFromBottom.current !== null) {
      s.scrollTop = s.scrollHeight - keepFromBottom.current
      keepFromBottom.current = null
    } else if (nearBottom.current || mineNew) {
      s.scrollTop = s.scrollHeight
    }
  })

  const loadOlder = () => {
    const s = scroller.current
    if (loadedAll || !s) return
    keepFromBottom.current = s.scrollHeight - s.scrollTop
    attempt(() => loadMore(PAGE))
  }

  return (
    <div
      className="scroller"
      data-testid="message-scroller"
      ref={scroller}
      onScroll={(e) => {
        const s = e.currentTarget
        nearBottom.current = s.scrollHeight - s.scrollTop - s.clientHeight < 80
      }}
    >
      <button type="button" className="older" data-testid="load-older" hidden={loadedAll} onClick={loadOlder}>
        Load older messages
      </button>
      {!isLoading && items.length === 0 && <div className="empty-messages">No messages yet — say hello 👋</div>}
      <ul className="messages" data-testid="message-list" aria-live="polite">
        {rows}
      </ul>
    </div>
  )
}
