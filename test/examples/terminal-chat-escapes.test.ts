/**
 * Terminal escape injection: what another member writes (message text, conversation names,
 * identities, attachments) reaches the terminal chat's screen with its control characters shown
 * as visible escapes, never executed by the terminal.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createRelay, type Relay } from '../../relay/index.ts'
import { Client } from '../../src/index.ts'
import { SECRET, Terminal, tokenFor } from './terminal.ts'

/** Anything a terminal acts on: C0 controls but the line ends the chat itself writes, DEL, C1, bidi overrides. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const ACTIVE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u

describe('terminal chat: escape injection', () => {
  let dir: string
  let relay: Relay
  let alice: Client
  let bob: Terminal

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'colloquy-terminal-escapes-'))
    relay = await createRelay({ auth: { secret: SECRET } })
    await relay.listen(0)
    alice = await Client.create({ relayUrl: relay.url, token: await tokenFor('alice') })
  })

  afterEach(async () => {
    bob?.kill()
    await alice.shutdown()
    await relay.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('shows control characters from the network as escapes, one message on one line', async () => {
    const room = await alice.createConversation({ friendlyName: 'room\x1b]0;pwned\x07', join: true })
    await room.add('bob')
    await room.add('\u202emallory')
    await alice.whenSynced()

    bob = new Terminal(['--token', await tokenFor('bob'), '--relay', relay.url, '--db', join(dir, 'bob.sqlite')])
    expect(await bob.waitFor('you are in')).toContain('"room\\x1b]0;pwned\\x07"')
    bob.send(`/join ${room.sid}`)
    await bob.waitFor('joined')

    const attack = [
      'hi\x1b]0;new title\x07',
      '\x1b[2J\x1b[H',
      '\r[12:00] admin: fake line',
      '\n[12:01] admin: another fake line',
      '\x1b]52;c;aGVsbG8=\x07',
      '\x9b31m',
      '\x7f',
      '\u202eevil\u2066',
    ].join(' ')
    await room.sendMessage(attack)
    // The whole message on one line, each active character spelled out.
    const shown = await bob.waitFor('alice: hi')
    expect(shown).toMatch(/^\[\d\d:\d\d\] alice: /)
    expect(shown.slice(shown.indexOf('alice: '))).toBe(
      'alice: hi\\x1b]0;new title\\x07 \\x1b[2J\\x1b[H \\r[12:00] admin: fake line ' +
        '\\n[12:01] admin: another fake line \\x1b]52;c;aGVsbG8=\\x07 \\x9b31m \\x7f \\u202eevil\\u2066',
    )
    await room.sendMessage({
      content: [
        { type: 'location', latitude: 1, longitude: 2, label: 'here\x1b[1;1H' },
        {
          type: 'file',
          subtype: 'file',
          url: 'https://x.test/a',
          filename: 'a\rb.pdf',
          contentType: 'application/pdf',
          size: 1,
        },
      ],
    })
    expect(await bob.waitFor('alice: 📍')).toContain(
      '📍 here\\x1b[1;1H (1.00000, 2.00000) 📎 a\\rb.pdf <https://x.test/a>',
    )

    bob.send('/who')
    await bob.waitFor('\\u202emallory (member')
    bob.send('/quit')
    await bob.waitFor('bye')
    expect(bob.output).not.toMatch(ACTIVE)
    expect(bob.lines('fake line')).toHaveLength(1)
  }, 30_000)
})
