import { invalidArgument } from './errors.ts'

/**
 * Every key of an options type, each listed once. Written as an object literal of this type, a list
 * that misses an option (or names one the type lacks) fails to compile, so the runtime check below
 * cannot fall behind the types.
 */
export type OptionKeys<T> = { readonly [K in keyof Required<T>]: true }

/**
 * Checks an options argument of a public entry point: `undefined` stands for `{}`; anything else
 * must be an object whose own keys are all known. Unknown keys are refused, not ignored: a
 * misspelt option, or one colloquy does not have (`subscribeConversations({ filter })`), would
 * otherwise change nothing without a word. The values are checked by the entry point itself.
 *
 * @example
 * const { limit } = checkOptions(options, { limit: true }, 'subscribeConversations')
 */
export const checkOptions = <T extends object>(options: T | undefined, known: OptionKeys<T>, where: string): T => {
  if (options === undefined) return {} as T
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw invalidArgument(`${where}: options must be an object`)
  for (const key of Object.keys(options)) {
    if (!Object.hasOwn(known, key)) {
      const names = Object.keys(known)
      throw invalidArgument(
        `${where}: unknown option '${key.slice(0, 64)}' (${names.length === 0 ? 'it takes none' : `known: ${names.join(', ')}`})`,
      )
    }
  }
  return options
}

/** Checks that a callback argument is a function (a TypeError later, from inside colloquy, says nothing useful). */
export const checkFunction = <F>(value: F, what: string): F => {
  if (typeof value !== 'function') throw invalidArgument(`${what} must be a function`)
  return value
}

/** Checks that `value` is an object with these methods (a storage adapter, a transport, …). */
export const checkMethods = <T>(value: T, methods: readonly string[], what: string): T => {
  const missing =
    typeof value !== 'object' || value === null
      ? methods
      : methods.filter((m) => typeof (value as Record<string, unknown>)[m] !== 'function')
  if (missing.length > 0) throw invalidArgument(`${what} must be an object with the methods ${missing.join(', ')}`)
  return value
}
