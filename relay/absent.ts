import * as encoding from 'lib0/encoding'
import * as syncProtocol from 'y-protocols/sync'
import * as Y from 'yjs'
import { MessageType, startFrame } from '../src/sync/protocol.ts'
import { changesNothing, type SleepingState } from './validate.ts'

/**
 * Documents nothing is stored for — a conversation not created (yet), a user who never wrote a
 * profile — are answered without a Y.Doc: a name someone made up costs the relay a record of who
 * asked, not a document (20 connections of one account asking for 50,000 such names used to load
 * 50,000 Y.Docs, +526 MiB).
 */

/** A Yjs v1 update with no structs and no deletions, and the state vector of an empty document. */
const EMPTY_UPDATE = Y.encodeStateAsUpdate(new Y.Doc({ gc: true, guid: 'colloquy-empty' }))
const EMPTY_STATE_VECTOR = Y.encodeStateVector(new Y.Doc({ gc: true, guid: 'colloquy-empty' }))
const NOTHING_STORED: SleepingState = { sv: new Map(), deletes: null }

/**
 * The answer to a first sync of a document nothing is stored for, as an empty document would give
 * it: sync step 2 with an empty update, then the relay's own step 1 ("send me everything").
 */
export const absentSyncAnswer = (name: string): [Uint8Array, Uint8Array] => {
  const step2 = startFrame(name, MessageType.sync)
  encoding.writeVarUint(step2, syncProtocol.messageYjsSyncStep2)
  encoding.writeVarUint8Array(step2, EMPTY_UPDATE)
  const step1 = startFrame(name, MessageType.sync)
  encoding.writeVarUint(step1, syncProtocol.messageYjsSyncStep1)
  encoding.writeVarUint8Array(step1, EMPTY_STATE_VECTOR)
  return [encoding.toUint8Array(step2), encoding.toUint8Array(step1)]
}

/** Whether `update` would leave a document nothing is stored for empty (a client's empty answer). */
export const changesNothingAbsent = (update: Uint8Array): boolean => changesNothing(NOTHING_STORED, update)
