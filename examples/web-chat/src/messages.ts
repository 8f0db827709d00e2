/** How one message looks: content blocks, reply quote, reactions, delivery mark, actions. */
import type { ContentBlock, FileBlock, LocationBlock, MessageSnapshot } from '../../../src/index.ts'
import { avatar, clockTime, fileSize, fullTime, h } from './dom.ts'
import { type IconName, icon } from './icons.ts'

export const QUICK_REACTIONS = ['👍', '❤️', '😂', '🎉', '😮', '🙏']

/** What the message view does when a message's buttons are used. */
export interface MessageActions {
  reply(message: MessageSnapshot): void
  edit(message: MessageSnapshot): void
  remove(message: MessageSnapshot): void
  toggleReaction(message: MessageSnapshot, emoji: string, mine: boolean): void
  jumpTo(messageId: string): void
}

/** A one-line summary of a message (list previews, reply quotes). */
export const excerpt = (m: Pick<MessageSnapshot, 'plaintext' | 'content'>): string => {
  if (m.plaintext) return m.plaintext.length > 120 ? `${m.plaintext.slice(0, 117)}…` : m.plaintext
  const block = m.content[0]
  if (block?.type === 'location') return `📍 ${block.label ?? 'Location'}`
  if (block?.type === 'file') return `📎 ${block.filename}`
  return ''
}

const safeUrl = (url: string): string | null => (/^https?:\/\//i.test(url) ? url : null)

/** Text with links made clickable. */
const textBlock = (text: string): HTMLElement => {
  const p = h('p', { class: 'text' })
  for (const part of text.split(/(https?:\/\/[^\s<>"]+)/g)) {
    if (/^https?:\/\//.test(part)) p.append(h('a', { href: part, target: '_blank', rel: 'noopener noreferrer' }, part))
    else if (part) p.append(part)
  }
  return p
}

const locationBlock = (b: LocationBlock): HTMLElement => {
  const lat = b.latitude.toFixed(5)
  const lon = b.longitude.toFixed(5)
  return h(
    'a',
    {
      class: 'card location',
      'data-testid': 'location-block',
      href: `https://www.openstreetmap.org/?mlat=${b.latitude}&mlon=${b.longitude}#map=16/${b.latitude}/${b.longitude}`,
      target: '_blank',
      rel: 'noopener noreferrer',
    },
    h('span', { class: 'card-icon' }, icon('pin', 22)),
    h('span', { class: 'card-body' }, h('strong', {}, b.label ?? 'Shared location'), h('small', {}, `${lat}, ${lon}`)),
  )
}

const FILE_ICONS: Record<FileBlock['subtype'], IconName> = {
  image: 'image',
  video: 'video',
  audio: 'audio',
  voice: 'voice',
  file: 'file',
}

const fileBlock = (b: FileBlock): HTMLElement => {
  const url = safeUrl(b.url)
  const details = [b.contentType, fileSize(b.size)]
  if (b.width && b.height) details.push(`${b.width}×${b.height}`)
  if (b.duration) details.push(`${Math.round(b.duration)} s`)
  const card = h(
    url ? 'a' : 'div',
    {
      class: 'card file',
      'data-testid': 'file-block',
      'data-subtype': b.subtype,
      ...(url ? { href: url, target: '_blank', rel: 'noopener noreferrer' } : {}),
    },
    h('span', { class: 'card-icon' }, icon(FILE_ICONS[b.subtype], 22)),
    h('span', { class: 'card-body' }, h('strong', {}, b.filename), h('small', {}, details.join(' · '))),
  )
  if (b.subtype !== 'image' || !url) return card
  // Images preview inline; when the file cannot be loaded (offline, gone) only the card shows.
  const img = h('img', { src: url, alt: b.filename, loading: 'lazy', class: 'preview' })
  img.addEventListener('error', () => img.remove())
  return h('figure', { class: 'image' }, img, card)
}

const blockEl = (b: ContentBlock): HTMLElement => {
  if (b.type === 'text') return textBlock(b.text)
  if (b.type === 'location') return locationBlock(b)
  return fileBlock(b)
}

const STATUS_LABEL: Record<MessageSnapshot['status'], string> = {
  pending: 'Waiting to be sent',
  sent: 'Sent',
  read: 'Read by everyone',
}
const STATUS_MARK: Record<MessageSnapshot['status'], IconName> = { pending: 'clock', sent: 'check', read: 'checks' }

/** One message row. */
export const messageEl = (
  m: MessageSnapshot,
  options: { me: string; showAuthor: boolean; actions: MessageActions },
): HTMLLIElement => {
  const mine = m.author === options.me
  const { actions } = options
  const li = h('li', {
    class: `message ${mine ? 'mine' : 'theirs'}${options.showAuthor ? ' first' : ''}`,
    'data-testid': 'message',
    'data-id': m.id,
    'data-author': m.author,
    'data-status': m.status,
    'data-index': m.index ?? '',
  })
  if (!mine) li.append(options.showAuthor ? avatar(m.author, 'small') : h('span', { class: 'avatar-gap' }))

  const bubble = h('div', { class: 'bubble' })
  if (!mine && options.showAuthor) bubble.append(h('div', { class: 'author' }, m.author))
  if (m.referencedMessageId) {
    const ref = m.referencedMessage
    bubble.append(
      h(
        'button',
        {
          type: 'button',
          class: 'quote',
          'data-testid': 'reply-quote',
          onclick: () => actions.jumpTo(m.referencedMessageId!),
        },
        ...(ref
          ? [
              h('strong', {}, ref.author === options.me ? 'You' : ref.author),
              h('span', { class: 'excerpt' }, excerpt(ref)),
            ]
          : [h('em', {}, 'The original message was deleted')]),
      ),
    )
  }
  const body = h('div', { class: 'content', 'data-testid': 'message-body' })
  for (const block of m.content) body.append(blockEl(block))
  bubble.append(body)
  bubble.append(
    h(
      'div',
      { class: 'meta' },
      m.editedAt !== null && h('span', { class: 'edited', title: `Edited ${fullTime(m.editedAt)}` }, 'edited'),
      h('time', { title: fullTime(m.createdAt) }, clockTime(m.createdAt)),
      mine &&
        h(
          'span',
          {
            class: `status ${m.status}`,
            'data-testid': 'message-status',
            'data-status': m.status,
            title: STATUS_LABEL[m.status],
            'aria-label': STATUS_LABEL[m.status],
          },
          icon(STATUS_MARK[m.status], 14),
        ),
    ),
  )

  const column = h('div', { class: 'column' }, bubble)
  if (m.reactions.length > 0) {
    column.append(
      h(
        'div',
        { class: 'reactions' },
        ...m.reactions.map((r) =>
          h(
            'button',
            {
              type: 'button',
              class: `reaction${r.currentUserReacted ? ' mine' : ''}`,
              'data-testid': 'reaction',
              'data-emoji': r.emoji,
              'aria-pressed': r.currentUserReacted ? 'true' : 'false',
              title: r.users.join(', '),
              onclick: () => actions.toggleReaction(m, r.emoji, r.currentUserReacted),
            },
            `${r.emoji} ${r.count}`,
          ),
        ),
      ),
    )
  }
  li.append(column)

  const picker = h(
    'div',
    { class: 'picker', hidden: true },
    ...QUICK_REACTIONS.map((emoji) =>
      h(
        'button',
        {
          type: 'button',
          'data-testid': 'react-option',
          'data-emoji': emoji,
          onclick: () => {
            picker.hidden = true
            const mineAlready = m.reactions.some((r) => r.emoji === emoji && r.currentUserReacted)
            actions.toggleReaction(m, emoji, mineAlready)
          },
        },
        emoji,
      ),
    ),
  )
  const remove = h(
    'button',
    {
      type: 'button',
      'data-testid': 'delete-button',
      title: 'Delete for everyone',
      onclick: () => {
        // Two clicks, no dialog: the first asks, the second deletes.
        if (remove.dataset.confirm === 'true') {
          actions.remove(m)
          return
        }
        remove.dataset.confirm = 'true'
        remove.replaceChildren('Delete?')
        setTimeout(() => {
          remove.dataset.confirm = 'false'
          remove.replaceChildren(icon('trash', 16))
        }, 3000)
      },
    },
    icon('trash', 16),
  )
  li.append(
    h(
      'div',
      { class: 'actions' },
      h(
        'button',
        { type: 'button', 'data-testid': 'reply-button', title: 'Reply', onclick: () => actions.reply(m) },
        icon('reply', 16),
      ),
      h(
        'button',
        {
          type: 'button',
          'data-testid': 'react-button',
          title: 'React',
          onclick: () => {
            picker.hidden = !picker.hidden
          },
        },
        icon('smile', 16),
      ),
      mine &&
        m.plaintext !== null &&
        h(
          'button',
          { type: 'button', 'data-testid': 'edit-button', title: 'Edit', onclick: () => actions.edit(m) },
          icon('edit', 16),
        ),
      mine && remove,
      picker,
    ),
  )
  return li
}
