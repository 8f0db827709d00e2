/**
 * Validation cost: relay CPU per update with write validation on and off.
 *
 * An honest author's updates (one message each, a few edits and reactions mixed in) are
 * generated up front, then fed as wire frames through a relay core with an in-memory store.
 * CPU time (user + system) from the first frame until everything is stored is measured, in two
 * ways: one update per event-loop turn (how a relay sees updates at any normal rate: each one is
 * decoded, validated, applied, sequenced, encoded and stored on its own) and all at once (a flood:
 * the relay stores and broadcasts everything that arrived in one turn as one update, so only the
 * per-update decoding, validation and apply remain).
 */
import * as encoding from 'lib0/encoding'
import * as syncProtocol from 'y-protocols/sync'
import * as Y from 'yjs'
import { RelayCore } from '../relay/core.ts'
import { participantSidFor } from '../src/ids.ts'
import { ConversationDocument, participantRecord, reactionKey } from '../src/schema/layout.ts'
import { MemoryStorage } from '../src/storage/memory.ts'
import { encodeUpdateFrame, MessageType, startFrame } from '../src/sync/protocol.ts'
import { fmt, quick, row, type ScenarioResult, summarize } from './stats.ts'

const N = quick ? 200 : 5000
/** Per-update CPU differences of a few µs drown in the machine's noise: many short paired runs. */
export const VALIDATION_ROUNDS = quick ? 1 : 15
const SID = 'CH0000000000000000000000000000bec0'
const NAME = `conv/${SID}`

/** A relay → reader sync frame carrying `update`. */
const frameOf = (update: Uint8Array): Uint8Array => encodeUpdateFrame(NAME, update)

/** Frames an honest client would send: create + join, then N messages with some edits and reactions. */
const generate = (): Uint8Array[] => {
  const doc = new Y.Doc()
  const conv = new ConversationDocument(doc)
  const frames: Uint8Array[] = []
  doc.on('update', (u: Uint8Array) => frames.push(frameOf(u)))
  const now = Date.now()
  doc.transact(() => {
    conv.set('sid', SID, 'alice', now)
    conv.set('createdBy', 'alice', 'alice', now)
    conv.set('dateCreated', now, 'alice', now)
    conv.participants.set(
      'alice',
      participantRecord(SID, 'alice', { at: now, addedBy: 'alice', membership: 'm1', role: 'admin' }),
    )
  })
  for (let i = 0; i < N; i++) {
    const id = `IM${i.toString(16).padStart(32, '0')}`
    doc.transact(() =>
      conv.messages.set(id, {
        id,
        author: 'alice',
        participantSid: participantSidFor(SID, 'alice'),
        content: [{ type: 'text', text: `message ${i} ${'x'.repeat(100)}` }],
        attributes: {},
        replyTo: null,
        createdAt: now + i,
      }),
    )
    if (i % 10 === 5) doc.transact(() => conv.reactions.set(reactionKey(id, 'alice', '👍'), now))
    if (i % 20 === 7)
      doc.transact(() =>
        conv.edits.set(id, { content: [{ type: 'text', text: `edited ${i}` }], attributes: {}, by: 'alice', at: now }),
      )
  }
  return frames
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

const run = async (frames: Uint8Array[], validate: boolean, perTurn: boolean): Promise<number> => {
  // No flush window: one update per turn is stored and broadcast on its own, as at a normal rate.
  const core = new RelayCore({ storage: new MemoryStorage(), validate, idleUnloadMs: 60_000, batchWindowMs: 0 })
  const conn = core.connect('alice', { send() {}, close() {} })
  const step1 = startFrame(NAME, MessageType.sync)
  syncProtocol.writeSyncStep1(step1, new Y.Doc())
  conn.receive(encoding.toUint8Array(step1))
  await core.flush()
  const before = process.cpuUsage()
  for (const f of frames) {
    conn.receive(f)
    if (perTurn) await nextTurn()
  }
  await conn.whenIdle()
  await core.flush()
  const used = process.cpuUsage(before)
  await core.close()
  return (used.user + used.system) / frames.length
}

export const benchValidation = async (rounds = VALIDATION_ROUNDS): Promise<ScenarioResult> => {
  const frames = generate()
  await run(frames.slice(0, 50), true, true) // warm up
  // Each round runs on and off back to back (in alternating order, so neither always runs warmer),
  // and the ratio is taken per round: drift in the machine's load between rounds cancels out.
  const samples = { off: [] as number[], on: [] as number[], floodOff: [] as number[], floodOn: [] as number[] }
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? [false, true] : [true, false]
    for (const v of order) samples[v ? 'on' : 'off'].push(await run(frames, v, true))
    for (const v of order) samples[v ? 'floodOn' : 'floodOff'].push(await run(frames, v, false))
  }
  const off = summarize(samples.off)
  const on = summarize(samples.on)
  const floodOff = summarize(samples.floodOff)
  const floodOn = summarize(samples.floodOn)
  const ratio = summarize(samples.on.map((v, i) => v / samples.off[i]!)).median
  const floodRatio = summarize(samples.floodOn.map((v, i) => v / samples.floodOff[i]!)).median
  return {
    markdown: [
      `### 5. Validation: relay CPU per update (${frames.length} updates, ${rounds} interleaved run${rounds > 1 ? 's' : ''})`,
      '',
      `Ratios are medians of each round's on / off (${fmt(ratio)}× one update per turn, ${fmt(floodRatio)}× in a flood); the table's are of the medians.`,
      '',
      '| relay | median | min–max | ratio |',
      '|---|---|---|---|',
      row('one update per turn, validation off', off, 'µs'),
      row('one update per turn, validation on', on, 'µs', off),
      row('all at once (a flood, batched), validation off', floodOff, 'µs'),
      row('all at once (a flood, batched), validation on', floodOn, 'µs', floodOff),
      '',
    ].join('\n'),
    targets: [
      {
        target: 'validation on vs off ≤ 1.15× relay CPU (one update per turn)',
        measured: `${fmt(ratio)}× (${fmt(on.median - off.median)} µs per update; in a batched flood ${fmt(floodRatio)}×)`,
        pass: ratio <= 1.15,
      },
    ],
  }
}

if (import.meta.main) process.stdout.write(`${(await benchValidation()).markdown}\n`)
