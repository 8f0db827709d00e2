/**
 * Text from the network made safe to print: every character a terminal would act on instead of
 * showing is replaced by a visible escape. Another member controls message bodies, names,
 * identities and file names; printed raw, `ESC ] 0 ;` sets the window title, `ESC [ 2 J` clears the
 * screen, `\r` or `\n` starts a line that looks like another person's message, `ESC ] 52 ;` writes
 * the clipboard (xterm, iTerm2, tmux …), and bidi overrides make text read differently from the
 * bytes it is.
 */

/**
 * C0 controls (newline and tab included: only the chat itself ends a line), DEL, C1 controls (a
 * single 0x9B is CSI on some terminals), and the bidi embedding, override and isolate characters.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const ACTIVE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/gu

const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' }

const escaped = (ch: string): string => {
  const named = NAMED[ch]
  if (named) return named
  const code = ch.codePointAt(0)!
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`
}

/** `text` with each active character shown as `\x1b`, `\r`, `\u202e` … (the rest unchanged). */
export const visible = (text: string): string => text.replace(ACTIVE, escaped)
