/**
 * Quick edits of one's own profile, right after connecting: the device's updates reach the relay
 * merged, with earlier values already deleted, and must be accepted like any other (issue 13, item 1).
 */
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import type { LogFields, Logger, Relay } from '../../relay/index.ts'
import type { Conversation, Message, User } from '../../src/index.ts'
import { Scope, UPDATE_REJECTED, waitFor, waitUntil } from './helpers.ts'

const refusals = (relay: Relay): number => relay.metrics.rejections.get('update_rejected') ?? 0

describe('quick profile edits are accepted', () => {
  const s = new Scope()
  afterEach(() => s.cleanup())

  /** Alice and bob share a conversation; bob watches alice's profile. */
  const world = async () => {
    const { relay } = await s.relay()
    const alice = await s.client('alice', relay.url)
    const bob = await s.client('bob', relay.url)
    const bobAdded = waitFor<Conversation>(bob, 'conversationAdded')
    const conv = await alice.createConversation({ friendlyName: 'profiles', join: true })
    await conv.add('bob')
    const bconv = await bobAdded
    const seenByBob = await bob.getUser('alice')
    return { relay, alice, bob, conv, bconv, seenByBob }
  }

  const messageStillFlows = async (conv: Conversation, bconv: Conversation, body: string) => {
    const got = waitFor<Message>(bconv, 'messageAdded', (m) => m.body === body)
    const sent = await conv.sendMessage(body)
    const received = await got
    await waitUntil(() => sent.index !== null && received.index !== null, `“${body}” is sequenced`)
  }

  const edits: Array<[string, (u: User) => Promise<void>, (u: User) => boolean]> = [
    [
      'friendlyName ×3',
      async (u) => {
        await u.updateFriendlyName('Alice 1')
        await u.updateFriendlyName('Alice 2')
        await u.updateFriendlyName('Alice 3')
      },
      (u) => u.friendlyName === 'Alice 3',
    ],
    [
      'attributes ×3',
      async (u) => {
        await u.updateAttributes({ n: 1 })
        await u.updateAttributes({ n: 2 })
        await u.updateAttributes({ n: 3 })
      },
      (u) => u.attributes.n === 3,
    ],
    [
      'name, attributes and a patch',
      async (u) => {
        await u.updateFriendlyName('Alice A.')
        await u.updateAttributes({ color: 'red', n: 1 })
        await u.patchAttributes({ n: null, size: 'L' })
        await u.updateFriendlyName('Alice B.')
      },
      (u) => u.friendlyName === 'Alice B.' && u.attributes.color === 'red' && u.attributes.size === 'L',
    ],
  ]

  for (const [name, edit, done] of edits) {
    it(`${name}, right after connecting: nothing refused, others see the result, messages flow`, async () => {
      const { relay, alice, conv, bconv, seenByBob } = await world()
      const before = refusals(relay)
      const states: string[] = []
      alice.on('connectionStateChanged', (state) => states.push(state))
      await edit(alice.user)
      await waitUntil(() => done(seenByBob), `bob sees alice's final profile (${name})`)
      await messageStillFlows(conv, bconv, `after ${name}`)
      expect(refusals(relay)).toBe(before)
      expect(states).toEqual([])
    })
  }
})

describe('an exception inside the validator is a relay bug, not the client’s fault', () => {
  const s = new Scope()
  afterEach(() => s.cleanup())

  it('is refused as a relay error, logged with the document and a hash of the update, and counted', async () => {
    const lines: Array<{ event: string; fields: LogFields | undefined }> = []
    const capture = (event: string, fields?: LogFields) => lines.push({ event, fields })
    const logger: Logger = { info: capture, warn: capture, error: capture }
    const { relay } = await s.relay({ logger })
    const scrape = async () => (await fetch(`http://127.0.0.1:${relay.port}/metrics`)).text()
    expect(await scrape()).toContain('colloquy_validator_errors_total 0')

    // A relay bug, simulated: the relay's copy of alice's profile holds its root as a list, so the
    // validator's own lookup of it throws.
    const live = await relay.core._load('user/alice')!
    live.doc.getArray('profile')
    const raw = await s.raw(relay.url, 'alice')
    const mine = new Y.Doc()
    const updates: Uint8Array[] = []
    mine.on('update', (u: Uint8Array) => updates.push(u))
    mine.getMap('profile').set('friendlyName', 'Alice')
    raw.sendUpdate('user/alice', updates[0]!)
    const closed = await raw.waitClosed()

    expect(closed.code).toBe(UPDATE_REJECTED)
    expect(closed.reason).toContain('user/alice: ')
    expect(closed.reason).toContain('relay error')
    expect(relay.metrics.validatorErrors).toBe(1)
    expect(await scrape()).toContain('colloquy_validator_errors_total 1')
    const logged = lines.filter((l) => l.event === 'validator_error')
    expect(logged).toHaveLength(1)
    const fields = logged[0]!.fields!
    expect(fields.doc).toBe('user/alice')
    expect(fields.identity).toBe('alice')
    expect(fields.updateSha256).toMatch(/^[0-9a-f]{16}$/)
    expect(fields.updateBytes).toBe(updates[0]!.byteLength)
    const text = JSON.stringify(lines)
    expect(text).not.toContain('eyJ') // no token
    expect(text).not.toContain('Alice')
  })
})
