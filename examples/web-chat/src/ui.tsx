/** Small shared pieces: line icons, avatars, toasts, and running an action from a click. */
import type { CSSProperties } from 'react'
import { hue, initials } from './format.ts'

/** A few line icons (Feather style), so the interface does not depend on emoji fonts. */
const PATHS = {
  attach:
    '<path d="m21.44 11.05-9.19 9.19a6 6 0 0 1-8.49-8.49l9.19-9.19a4 4 0 0 1 5.66 5.66l-9.2 9.19a2 2 0 0 1-2.83-2.83l8.49-8.48"/>',
  reply: '<polyline points="9 14 4 9 9 4"/><path d="M20 20v-7a4 4 0 0 0-4-4H4"/>',
  smile:
    '<circle cx="12" cy="12" r="10"/><path d="M8 14s1.5 2 4 2 4-2 4-2"/><line x1="9" y1="9" x2="9.01" y2="9"/><line x1="15" y1="9" x2="15.01" y2="9"/>',
  edit: '<path d="M17 3a2.85 2.85 0 1 1 4 4L7.5 20.5 2 22l1.5-5.5Z"/>',
  trash:
    '<polyline points="3 6 5 6 21 6"/><path d="m19 6-1 14a2 2 0 0 1-2 2H8a2 2 0 0 1-2-2L5 6"/><path d="M10 11v6M14 11v6M9 6V4a1 1 0 0 1 1-1h4a1 1 0 0 1 1 1v2"/>',
  close: '<line x1="18" y1="6" x2="6" y2="18"/><line x1="6" y1="6" x2="18" y2="18"/>',
  clock: '<circle cx="12" cy="12" r="9"/><polyline points="12 7 12 12 15 14"/>',
  check: '<polyline points="20 6 9 17 4 12"/>',
  checks: '<polyline points="17 6 7 16 2 11"/><polyline points="22 6 12 16 10.5 14.5"/>',
  pin: '<path d="M20 10c0 6-8 12-8 12s-8-6-8-12a8 8 0 0 1 16 0Z"/><circle cx="12" cy="10" r="3"/>',
  file: '<path d="M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8z"/><polyline points="14 2 14 8 20 8"/>',
  image:
    '<rect x="3" y="3" width="18" height="18" rx="2"/><circle cx="8.5" cy="8.5" r="1.5"/><polyline points="21 15 16 10 5 21"/>',
  video: '<polygon points="23 7 16 12 23 17 23 7"/><rect x="1" y="5" width="15" height="14" rx="2"/>',
  audio: '<path d="M9 18V5l12-2v13"/><circle cx="6" cy="18" r="3"/><circle cx="18" cy="16" r="3"/>',
  voice:
    '<path d="M12 1a3 3 0 0 0-3 3v8a3 3 0 0 0 6 0V4a3 3 0 0 0-3-3z"/><path d="M19 10v2a7 7 0 0 1-14 0v-2"/><line x1="12" y1="19" x2="12" y2="23"/>',
} as const

export type IconName = keyof typeof PATHS

export function Icon({ name, size = 18 }: { name: IconName; size?: number }) {
  return (
    <svg
      viewBox="0 0 24 24"
      width={size}
      height={size}
      fill="none"
      stroke="currentColor"
      strokeWidth="2"
      strokeLinecap="round"
      strokeLinejoin="round"
      aria-hidden="true"
      className={`icon icon-${name}`}
      // The paths are constants of this file, never user input.
      // biome-ignore lint/security/noDangerouslySetInnerHtml: static icon paths
      dangerouslySetInnerHTML={{ __html: PATHS[name] }}
    />
  )
}

export function Avatar({ name, size = '' }: { name: string; size?: 'tiny' | 'small' | '' }) {
  return (
    <span className={`avatar ${size}`} style={{ '--hue': hue(name) } as CSSProperties} aria-hidden="true">
      {initials(name)}
    </span>
  )
}

/** A short-lived message at the bottom of the screen (outside React: any code may raise one). */
export const toast = (text: string, kind: 'error' | 'info' = 'error'): void => {
  const el = document.createElement('div')
  el.className = `toast ${kind}`
  el.setAttribute('role', 'status')
  el.dataset.testid = 'toast'
  el.textContent = text
  document.body.append(el)
  setTimeout(() => el.remove(), 5000)
}

/** Runs an action from a click and shows what went wrong, if anything. */
export const attempt = (action: () => Promise<unknown>): void => {
  action().catch((error: unknown) => toast(error instanceof Error ? error.message : String(error)))
}
