/** Plain formatting for the web chat: names, times, sizes, one-line excerpts. No DOM, no React. */
import type { MessageSnapshot, TypingSnapshot } from '../../../src/index.ts'

/** Names the development sign-in accepts (the example server's rule): 1–32 letters, digits, `.`, `_`, `-`. */
export const NAME = /^[\p{L}\p{N}._-]{1,32}$/u

/** Why `name` cannot be a person's name here, or null when it can. */
export const nameProblem = (name: string): string | null =>
  NAME.test(name) ? null : 'A name is 1–32 letters, digits, ".", "_" or "-".'

/** Two letters for an avatar. */
export const initials = (name: string): string => {
  const parts = name.split(/[\s._-]+/).filter(Boolean)
  const letters = parts.length > 1 ? `${parts[0]![0]}${parts[1]![0]}` : name.slice(0, 2)
  return letters.toUpperCase()
}

/** A stable hue per name, so everyone keeps their avatar colour. */
export const hue = (name: string): number => {
  let h = 0
  for (const c of name) h = (h * 31 + c.codePointAt(0)!) % 360
  return h
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' })
const dayFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' })
const longDayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'long', month: 'long', day: 'numeric' })
const yearDayFormat = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'long', day: 'numeric' })

/** `14:05` today, `Mar 3` before. */
export const shortTime = (ms: number): string => {
  const d = new Date(ms)
  return d.toDateString() === new Date().toDateString() ? timeFormat.format(d) : dayFormat.format(d)
}

export const clockTime = (ms: number): string => timeFormat.format(new Date(ms))

export const fullTime = (ms: number): string => new Date(ms).toLocaleString()

/** The local day of a time, as a key (`2026-12-02`). */
export const dayKey = (ms: number): string => {
  const d = new Date(ms)
  return `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`
}

/** What a date separator says: `Today`, `Yesterday`, `Monday, March 3`, or with the year when it is not this one. */
export const dayLabel = (ms: number, now = Date.now()): string => {
  const day = new Date(ms)
  const today = new Date(now)
  if (day.toDateString() === today.toDateString()) return 'Today'
  const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1)
  if (day.toDateString() === yesterday.toDateString()) return 'Yesterday'
  return day.getFullYear() === today.getFullYear() ? longDayFormat.format(day) : yearDayFormat.format(day)
}

/** `1.2 MB` */
export const fileSize = (bytes: number): string => {
  if (bytes < 1024) return `${bytes} B`
  const units = ['KB', 'MB', 'GB', 'TB']
  let value = bytes / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`
}

/** A one-line summary of a message (list previews, reply quotes). */
export const excerpt = (m: Pick<MessageSnapshot, 'plaintext' | 'content'>): string => {
  if (m.plaintext) return m.plaintext.length > 120 ? `${m.plaintext.slice(0, 117)}…` : m.plaintext
  const block = m.content[0]
  if (block?.type === 'location') return `📍 ${block.label ?? 'Location'}`
  if (block?.type === 'file') return `📎 ${block.filename}`
  return ''
}

/** "alice is typing…", "alice and bob are typing…", "Several people are typing…". */
export const typingText = (typing: TypingSnapshot): string => {
  if (typing.many) return 'Several people are typing…'
  const [a, b] = typing.users
  if (typing.users.length === 0) return ''
  if (typing.users.length === 1) return `${a} is typing…`
  if (typing.users.length === 2) return `${a} and ${b} are typing…`
  return 'Several people are typing…'
}

const TYPES: Record<string, string> = {
  pdf: 'application/pdf',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  mp4: 'video/mp4',
  webm: 'video/webm',
  mp3: 'audio/mpeg',
  ogg: 'audio/ogg',
  txt: 'text/plain',
  zip: 'application/zip',
}

/** A content type from a file name, or a generic one for its kind. */
export const guessType = (filename: string, kind: string): string => {
  const ext = filename.split('.').pop()?.toLowerCase() ?? ''
  return TYPES[ext] ?? (kind === 'file' ? 'application/octet-stream' : `${kind === 'voice' ? 'audio' : kind}/*`)
}
