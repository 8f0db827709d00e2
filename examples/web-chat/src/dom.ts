/** Tiny DOM helpers: enough to keep the chat readable without a framework. */

type Child = Node | string | number | null | undefined | false
type AttrValue = string | number | boolean | null | undefined
type Listener = (event: never) => void
export type Attrs = Record<string, AttrValue | Listener>

/**
 * Creates an element. `onclick`-style keys add listeners, `class` sets the class, `true` sets an
 * empty attribute, `false`/`null`/`undefined` leave it out.
 *
 * @example h('button', { class: 'primary', 'data-testid': 'send', onclick: send }, 'Send')
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  for (const [key, value] of Object.entries(attrs)) {
    if (typeof value === 'function') el.addEventListener(key.slice(2), value as EventListener)
    else if (value === true) el.setAttribute(key, '')
    else if (value !== false && value !== null && value !== undefined) el.setAttribute(key, String(value))
  }
  append(el, children)
  return el
}

export const append = (el: Element, children: Child[]): void => {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue
    el.append(child instanceof Node ? child : String(child))
  }
}

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

export const avatar = (name: string, extra = ''): HTMLSpanElement =>
  h('span', { class: `avatar ${extra}`, style: `--hue: ${hue(name)}`, 'aria-hidden': 'true' }, initials(name))

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' })
const dayFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' })

/** `14:05` today, `Mar 3` before. */
export const shortTime = (ms: number): string => {
  const d = new Date(ms)
  return d.toDateString() === new Date().toDateString() ? timeFormat.format(d) : dayFormat.format(d)
}

export const clockTime = (ms: number): string => timeFormat.format(new Date(ms))

export const fullTime = (ms: number): string => new Date(ms).toLocaleString()

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

/** A short-lived message at the bottom of the screen. */
export const toast = (text: string, kind: 'error' | 'info' = 'error'): void => {
  const el = h('div', { class: `toast ${kind}`, role: 'status', 'data-testid': 'toast' }, text)
  document.body.append(el)
  setTimeout(() => el.remove(), 5000)
}

/** Runs an action from a click and shows what went wrong, if anything. */
export const attempt = (action: () => Promise<unknown>): void => {
  action().catch((error: unknown) => toast(error instanceof Error ? error.message : String(error)))
}
