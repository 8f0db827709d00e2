import { ColloquyError } from '../errors.ts'

/** Argument checks every storage adapter makes, with the same typed errors. */

export function checkDocName(docName: unknown): asserts docName is string {
  if (typeof docName !== 'string' || docName.length === 0) {
    throw new ColloquyError('INVALID_ARGUMENT', 'document name must be a non-empty string')
  }
}

export function checkBytes(value: unknown, what: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array) && Object.prototype.toString.call(value) !== '[object Uint8Array]') {
    throw new ColloquyError('INVALID_ARGUMENT', `${what} must be a Uint8Array`)
  }
}

export function checkCount(count: unknown): asserts count is number {
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) {
    throw new ColloquyError('INVALID_ARGUMENT', 'count must be a non-negative integer')
  }
}

export function checkPrefix(prefix: unknown): asserts prefix is string {
  if (typeof prefix !== 'string') throw new ColloquyError('INVALID_ARGUMENT', 'prefix must be a string')
}
