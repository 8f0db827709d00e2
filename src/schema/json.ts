import { invalidArgument } from '../errors.ts'

/** A JSON value, as stored in attributes and custom data. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue }
/** A JSON object: the shape of every `attributes` field. */
export type JsonObject = { [key: string]: JsonValue }

const encoder = new TextEncoder()

/** UTF-8 length of a string without allocating for ASCII-only text. */
export const utf8Length = (text: string): number => {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: checking for the ASCII range
  if (/^[\u0000-\u007f]*$/.test(text)) return text.length
  return encoder.encode(text).length
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' &&
  value !== null &&
  !Array.isArray(value) &&
  Object.getPrototypeOf(value) === Object.prototype

/** Deep-copies `value` as JSON, rejecting what JSON cannot hold (functions, cycles, NaN, class instances). */
export const cloneJson = (value: unknown, what: string, depth = 0): JsonValue => {
  if (depth > 32) throw invalidArgument(`${what} is nested too deeply`)
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw invalidArgument(`${what} contains a non-finite number`)
    return value
  }
  if (Array.isArray(value)) return value.map((v) => cloneJson(v, what, depth + 1))
  if (isPlainObject(value)) {
    const out: JsonObject = {}
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined) continue
      out[k] = cloneJson(v, what, depth + 1)
    }
    return out
  }
  throw invalidArgument(`${what} must be JSON (got ${typeof value})`)
}

/** Validates attributes: a JSON object within the size limit. Returns a private copy. */
export const checkAttributes = (value: unknown, maxBytes: number, what = 'attributes'): JsonObject => {
  if (!isPlainObject(value)) throw invalidArgument(`${what} must be a plain JSON object`)
  const copy = cloneJson(value, what) as JsonObject
  if (utf8Length(JSON.stringify(copy)) > maxBytes) throw invalidArgument(`${what} exceed ${maxBytes} bytes as JSON`)
  return copy
}

/** Applies a patch where `null` deletes a key and `undefined` leaves it. */
export const applyPatch = (base: JsonObject, patch: Record<string, unknown>, what: string): JsonObject => {
  if (!isPlainObject(patch)) throw invalidArgument(`${what} must be a plain JSON object`)
  const out: JsonObject = { ...base }
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue
    if (v === null) delete out[k]
    else out[k] = cloneJson(v, what)
  }
  return out
}

/** Deep structural equality of JSON values (used to reuse unchanged snapshots). */
export const jsonEqual = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false
    return a.every((v, i) => jsonEqual(v, b[i]))
  }
  if (Array.isArray(b)) return false
  if (a instanceof Date || b instanceof Date) {
    return a instanceof Date && b instanceof Date && a.getTime() === b.getTime()
  }
  const ak = Object.keys(a as object)
  const bk = Object.keys(b as object)
  if (ak.length !== bk.length) return false
  return ak.every((k) => jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
}

export { isPlainObject }
