/** Stable, machine-readable error codes. Match on `error.code`, never on the message text. */
export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'FORBIDDEN'
  | 'CONFLICT'
  | 'LIMIT_EXCEEDED'
  | 'CLOSED'
  | 'ABORTED'
  | 'UNAUTHORIZED'
  | 'REJECTED'
  | 'NO_PAGE'

/**
 * The one error class colloquy throws or rejects with. `code` says what went wrong; the message
 * says it for humans and never contains secrets or document contents.
 *
 * @example
 * try { await conversation.sendMessage('hi') } catch (e) {
 *   if (e instanceof ColloquyError && e.code === 'FORBIDDEN') showReadOnlyBanner()
 * }
 */
export class ColloquyError extends Error {
  readonly code: ErrorCode
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'ColloquyError'
    this.code = code
  }
}

/** Shorthands for the common codes. */
export const invalidArgument = (message: string): ColloquyError => new ColloquyError('INVALID_ARGUMENT', message)
export const notFound = (message: string): ColloquyError => new ColloquyError('NOT_FOUND', message)
export const forbidden = (message: string): ColloquyError => new ColloquyError('FORBIDDEN', message)
export const closedError = (what: string): ColloquyError => new ColloquyError('CLOSED', `${what} is closed`)
