/**
 * The terminal chat's screen: the one place that writes to stdout. Every line goes through
 * `visible()`, whatever it holds, so nothing another member wrote can reach the terminal as a
 * control sequence — not even through a string that no one thought came from the network (an
 * error message, a relay's close reason).
 */
import { createInterface, type Interface } from 'node:readline'
import { visible } from './visible.ts'

export class Screen {
  /** Whether a person is at a terminal (stdin and stdout are TTYs): then there is a prompt to keep. */
  readonly tty: boolean
  readonly input: Interface
  #open = true

  constructor() {
    this.tty = process.stdin.isTTY === true && process.stdout.isTTY === true
    this.input = createInterface({ input: process.stdin, output: process.stdout, terminal: this.tty, prompt: '> ' })
    // Registered before anyone else's 'close' listener: nothing may redraw a prompt on a closed
    // interface (readline throws ERR_USE_AFTER_CLOSE), which `/quit` and Ctrl-D used to do.
    this.input.on('close', () => {
      this.#open = false
    })
  }

  /** Prints one line without mangling what the user is typing; control characters show as escapes. */
  print(line: string): void {
    const text = visible(line)
    if (this.tty && this.#open) {
      process.stdout.write(`\r\x1b[2K${text}\n`)
      this.input.prompt(true)
    } else {
      process.stdout.write(`${text}\n`)
    }
  }

  /** A notice from the chat itself (`* …`). */
  note(line: string): void {
    this.print(`* ${line}`)
  }

  /** Several lines of the chat's own text (help): each printed on its own. */
  printLines(text: string): void {
    for (const line of text.split('\n')) this.print(line)
  }

  /** Shows the prompt again, while there is an interface to show it on. */
  prompt(): void {
    if (this.tty && this.#open) this.input.prompt()
  }

  /** What the user has typed so far on the prompt line. */
  get typed(): string {
    return this.input.line
  }

  close(): void {
    this.input.close()
  }
}
