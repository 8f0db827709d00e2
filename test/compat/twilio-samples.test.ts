/**
 * The compatibility samples (twilio-samples.ts) compile under the project's strict settings and run
 * against a real relay, with two real clients: the sample author and the participant it adds.
 */
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { afterEach, describe, expect, it } from 'vitest'
import { type Conversation, Participant } from '../../src/index.ts'
import { Harness } from '../relay/helpers.ts'
import { waitFor, waitUntil } from '../support/wait.ts'
import {
  addParticipantsSample,
  createConversationSample,
  joinAndLeaveSample,
  listConversationsSample,
  listMessagesSample,
  listParticipantsSample,
} from './twilio-samples.ts'

const SAMPLES = fileURLToPath(new URL('./twilio-samples.ts', import.meta.url))
const TSCONFIG = fileURLToPath(new URL('../../tsconfig.json', import.meta.url))

describe('compatibility samples', () => {
  const h = new Harness()
  afterEach(() => h.cleanup())

  it('type-check under the project tsconfig (a readonly Paginator.items would fail with TS4104)', () => {
    const config = ts.getParsedCommandLineOfConfigFile(
      TSCONFIG,
      {},
      {
        ...ts.sys,
        onUnRecoverableConfigFileDiagnostic: (d) => {
          throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'))
        },
      },
    )!
    const program = ts.createProgram([SAMPLES], { ...config.options, noEmit: true })
    const errors = ts
      .getPreEmitDiagnostics(program, program.getSourceFile(SAMPLES))
      .map((d) => `TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`)
    expect(errors).toEqual([])
  }, 60_000)

  it('run against a real relay', async () => {
    const relay = await h.relay()
    const client = await h.client('sampler', { relayUrl: relay.url })
    const invitee = await h.client('identity', { relayUrl: relay.url })

    await createConversationSample(client)
    const conversation = await client.getConversationByUniqueName('new conversation')
    expect(conversation.friendlyName).toBe('new conversation')
    expect(conversation.attributes).toEqual({})

    // As the samples say, the creator adds people and then joins ("use after creating the
    // conversation from the SDK"); the join-and-leave sample closes the run: once the creator has
    // taken part and left, they are added back like anyone ([roles](docs/participants-and-roles.md)).
    const added = waitFor<Conversation>(invitee, 'conversationAdded', (c) => c.sid === conversation.sid)
    const joined = waitFor<Participant>(conversation, 'participantJoined', (p) => p.identity === 'sampler')
    const off = await addParticipantsSample(conversation)
    expect((await joined).identity).toBe('sampler')
    off()
    expect(conversation.status).toBe('joined')

    const participants = await listParticipantsSample(conversation)
    expect(participants.every((p) => p instanceof Participant)).toBe(true)
    expect(participants.map((p) => p.identity ?? p.address).sort()).toEqual(['+12345678', 'identity', 'sampler'])

    // The invitee answers; the sample pages back from index 0 and finds the first message.
    const theirs = await added
    const first = await conversation.sendMessage('hello from the sample')
    await waitUntil(() => first.index !== null, 'the first message is indexed')
    await theirs.sendMessage('hello back')
    const messages = await listMessagesSample(conversation)
    expect(messages.map((m) => m.body)).toEqual(['hello from the sample'])
    messages.push(first) // the page's array is the app's own
    expect((await listMessagesSample(conversation)).length).toBe(1)

    const conversations = await listConversationsSample(client)
    expect(conversations.map((c) => c.sid)).toEqual([conversation.sid])

    await joinAndLeaveSample(conversation)
    expect(conversation.status).toBe('notParticipating')
  })
})
