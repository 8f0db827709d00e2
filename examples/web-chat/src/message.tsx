/** How one message looks: content blocks, reply quote, reactions, delivery mark, actions. */
import { memo, useEffect, useState } from 'react'
import type { ContentBlock, FileBlock, LocationBlock, MessageSnapshot } from '../../../src/index.ts'
import { clockTime, excerpt, fileSize, fullTime } from './format.ts'
import type { MessageActions } from './message-list.tsx'
import { Avatar, Icon, type IconName } from './ui.tsx'

export const QUICK_REACTIONS = ['👍', '❤️', '😂', '🎉', '😮', '🙏']

const safeUrl = (url: string): string | null => (/^https?:\/\//i.test(url) ? url : null)

/** Text with links made clickable. */
function TextBlock({ text }: { text: string }) {
  return (
    <p className="text">
      {text.split(/(https?:\/\/[^\s<>"]+)/g).map((part, i) =>
        /^https?:\/\//.test(part) ? (
          // biome-ignore lint/suspicious/noArrayIndexKey: the parts of one text never move
          <a key={i} href={part} target="_blank" rel="noopener noreferrer">
            {part}
          </a>
        ) : (
          part
        ),
      )}
    </p>
  )
}

function LocationCard({ block: b }: { block: LocationBlock }) {
  return (
    <a
      className="card location"
      data-testid="location-block"
      href={`https://www.openstreetmap.org/?mlat=${b.latitude}&mlon=${b.longitude}#map=16/${b.latitude}/${b.longitude}`}
      target="_blank"
      rel="noopener noreferrer"
    >
      <span className="card-icon">
        <Icon name="pin" size={22} />
      </span>
      <span className="card-body">
        <strong>{b.label ?? 'Shared location'}</strong>
        <small>
          {b.latitude.toFixed(5)}, {b.longitude.toFixed(5)}
        </small>
      </span>
    </a>
  )
}

const FILE_ICONS: Record<FileBlock['subtype'], IconName> = {
  image: 'image',
  video: 'video',
  audio: 'audio',
  voice: 'voice',
  file: 'file',
}

function FileCard({ block: b }: { block: FileBlock }) {
  const url = safeUrl(b.url)
  const [preview, setPreview] = useState(true)
  const details = [b.contentType, fileSize(b.size)]
  if (b.width && b.height) details.push(`${b.width}×${b.height}`)
  if (b.duration) details.push(`${Math.round(b.duration)} s`)
  const body = (
    <>
      <span className="card-icon">
        <Icon name={FILE_ICONS[b.subtype]} size={22} />
      </span>
      <span className="card-body">
        <strong>{b.filename}</strong>
        <small>{details.join(' · ')}</small>
      </span>
    </>
  )
  const card = url ? (
    <a
      className="card file"
      data-testid="file-block"
      data-subtype={b.subtype}
      href={url}
      target="_blank"
      rel="noopener noreferrer"
    >
      {body}
    </a>
  ) : (
    <div className="card file" data-testid="file-block" data-subtype={b.subtype}>
      {body}
    </div>
  )
  if (b.subtype !== 'image' || !url) return card
  // Images preview inline; when the file cannot be loaded (offline, gone) only the card shows.
  return (
    <figure className="image">
      {preview && (
        <img src={url} alt={b.filename} loading="lazy" className="preview" onError={() => setPreview(false)} />
      )}
      {card}
    </figure>
  )
}

function Block({ block }: { block: ContentBlock }) {
  if (block.type === 'text') return <TextBlock text={block.text} />
  if (block.type === 'location') return <LocationCard block={block} />
  return <FileCard block={block} />
}

const STATUS: Record<MessageSnapshot['status'], { icon: IconName; label: string; short: string }> = {
  pending: { icon: 'clock', label: 'Waiting to be sent', short: 'Sending' },
  sent: { icon: 'check', label: 'Sent', short: 'Sent' },
  read: { icon: 'checks', label: 'Read by everyone', short: 'Read' },
}

/** Deleting asks first: the first click arms the button for three seconds, the second deletes. */
function DeleteButton({ onDelete }: { onDelete: () => void }) {
  const [armed, setArmed] = useState(false)
  useEffect(() => {
    if (!armed) return
    const timer = setTimeout(() => setArmed(false), 3000)
    return () => clearTimeout(timer)
  }, [armed])
  return (
    <button
      type="button"
      data-testid="delete-button"
      data-confirm={armed}
      title="Delete for everyone"
      onClick={() => (armed ? onDelete() : setArmed(true))}
    >
      {armed ? 'Delete?' : <Icon name="trash" size={16} />}
    </button>
  )
}

/** One message row; snapshots keep their identity while unchanged, so only changed rows render. */
export const MessageRow = memo(function MessageRow({
  message: m,
  me,
  showAuthor,
  actions,
  onJump,
}: {
  message: MessageSnapshot
  me: string
  showAuthor: boolean
  actions: MessageActions
  onJump: (id: string) => void
}) {
  const mine = m.author === me
  const [picking, setPicking] = useState(false)
  const status = STATUS[m.status]
  const ref = m.referencedMessage
  return (
    <li
      className={`message ${mine ? 'mine' : 'theirs'}${showAuthor ? ' first' : ''}`}
      data-testid="message"
      data-id={m.id}
      data-author={m.author}
      data-status={m.status}
      data-index={m.index ?? ''}
    >
      {!mine && (showAuthor ? <Avatar name={m.author} size="small" /> : <span className="avatar-gap" />)}
      <div className="column">
        <div className="bubble">
          {!mine && showAuthor && <div className="author">{m.author}</div>}
          {m.referencedMessageId && (
            <button
              type="button"
              className="quote"
              data-testid="reply-quote"
              onClick={() => onJump(m.referencedMessageId!)}
            >
              {ref ? (
                <>
                  <strong>{ref.author === me ? 'You' : ref.author}</strong>
                  <span className="excerpt">{excerpt(ref)}</span>
                </>
              ) : (
                <em>The original message was deleted</em>
              )}
            </button>
          )}
          <div className="content" data-testid="message-body">
            {m.content.map((block, i) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: a message's blocks never move
              <Block key={i} block={block} />
            ))}
          </div>
          <div className="meta">
            {m.editedAt !== null && (
              <span className="edited" title={`Edited ${fullTime(m.editedAt)}`}>
                edited
              </span>
            )}
            <time title={fullTime(m.createdAt)}>{clockTime(m.createdAt)}</time>
            {mine && (
              <span
                className={`status ${m.status}`}
                data-testid="message-status"
                data-status={m.status}
                title={status.label}
              >
                <Icon name={status.icon} size={14} />
                <span className="status-text">{status.short}</span>
              </span>
            )}
          </div>
        </div>
        {m.reactions.length > 0 && (
          <div className="reactions">
            {m.reactions.map((r) => (
              <button
                key={r.emoji}
                type="button"
                className={`reaction${r.currentUserReacted ? ' mine' : ''}`}
                data-testid="reaction"
                data-emoji={r.emoji}
                aria-pressed={r.currentUserReacted}
                title={r.users.join(', ')}
                onClick={() => actions.toggleReaction(m, r.emoji, r.currentUserReacted)}
              >
                {r.emoji} {r.count}
              </button>
            ))}
          </div>
        )}
      </div>
      <div className="actions">
        <button type="button" data-testid="reply-button" title="Reply" onClick={() => actions.reply(m)}>
          <Icon name="reply" size={16} />
        </button>
        <button type="button" data-testid="react-button" title="React" onClick={() => setPicking((p) => !p)}>
          <Icon name="smile" size={16} />
        </button>
        {mine && m.plaintext !== null && (
          <button type="button" data-testid="edit-button" title="Edit" onClick={() => actions.edit(m)}>
            <Icon name="edit" size={16} />
          </button>
        )}
        {mine && <DeleteButton onDelete={() => actions.remove(m)} />}
        <div className="picker" hidden={!picking}>
          {QUICK_REACTIONS.map((emoji) => (
            <button
              key={emoji}
              type="button"
              data-testid="react-option"
              data-emoji={emoji}
              onClick={() => {
                setPicking(false)
                actions.toggleReaction(
                  m,
                  emoji,
                  m.reactions.some((r) => r.emoji === emoji && r.currentUserReacted),
                )
              }}
            >
              {emoji}
            </button>
          ))}
        </div>
      </div>
    </li>
  )
})
