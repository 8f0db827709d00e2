import { invalidArgument } from '../errors.ts'
import { utf8Length } from './json.ts'
import { LIMITS } from './limits.ts'
import { checkRequiredUrl } from './validate.ts'

/** Plain text. */
export interface TextBlock {
  type: 'text'
  text: string
}
/** A point on the map (latitude −90..90, longitude −180..180). */
export interface LocationBlock {
  type: 'location'
  latitude: number
  longitude: number
  label?: string
}
/** The kind of file, for rendering. */
export type FileSubtype = 'image' | 'video' | 'audio' | 'voice' | 'file'
/**
 * A file held elsewhere (an upload service, a CDN): colloquy stores the reference and its
 * metadata, never the bytes.
 */
export interface FileBlock {
  type: 'file'
  subtype: FileSubtype
  url: string
  filename: string
  contentType: string
  size: number
  width?: number
  height?: number
  duration?: number
}
/** One block of a message's content. */
export type ContentBlock = TextBlock | LocationBlock | FileBlock

/** The fields each block type has: anything else is refused (the relay refuses it too), never dropped silently. */
const BLOCK_FIELDS: Record<ContentBlock['type'], readonly string[]> = {
  text: ['type', 'text'],
  location: ['type', 'latitude', 'longitude', 'label'],
  file: ['type', 'subtype', 'url', 'filename', 'contentType', 'size', 'width', 'height', 'duration'],
}

const SUBTYPES: readonly FileSubtype[] = ['image', 'video', 'audio', 'voice', 'file']

const nonNegative = (v: unknown, what: string): number => {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
    throw invalidArgument(`${what} must be a non-negative number`)
  return v
}

const shortString = (v: unknown, what: string, max: number): string => {
  if (typeof v !== 'string' || v.length === 0) throw invalidArgument(`${what} must be a non-empty string`)
  if (v.length > max) throw invalidArgument(`${what} is longer than ${max} characters`)
  return v
}

/** Validates and copies one content block. */
export const checkContentBlock = (block: unknown): ContentBlock => {
  if (typeof block !== 'object' || block === null) throw invalidArgument('a content block must be an object')
  const b = block as Record<string, unknown>
  const fields = Object.hasOwn(BLOCK_FIELDS, b.type as string) ? BLOCK_FIELDS[b.type as ContentBlock['type']] : null
  const unknown = fields === null ? undefined : Object.keys(b).find((k) => !fields.includes(k))
  if (unknown !== undefined)
    throw invalidArgument(`a ${b.type} block has no field '${unknown.slice(0, 64)}' (fields: ${fields!.join(', ')})`)
  switch (b.type) {
    case 'text': {
      if (typeof b.text !== 'string') throw invalidArgument('a text block needs a string `text`')
      return { type: 'text', text: b.text }
    }
    case 'location': {
      const { latitude, longitude } = b
      if (typeof latitude !== 'number' || !(latitude >= -90 && latitude <= 90))
        throw invalidArgument('latitude must be a number from -90 to 90')
      if (typeof longitude !== 'number' || !(longitude >= -180 && longitude <= 180))
        throw invalidArgument('longitude must be a number from -180 to 180')
      const out: LocationBlock = { type: 'location', latitude, longitude }
      if (b.label !== undefined) out.label = shortString(b.label, 'location label', LIMITS.friendlyNameLength)
      return out
    }
    case 'file': {
      const subtype = b.subtype === undefined ? 'file' : b.subtype
      if (!SUBTYPES.includes(subtype as FileSubtype))
        throw invalidArgument(`file subtype must be one of ${SUBTYPES.join(', ')}`)
      const out: FileBlock = {
        type: 'file',
        subtype: subtype as FileSubtype,
        url: checkRequiredUrl(b.url, 'file url'),
        filename: shortString(b.filename, 'file name', LIMITS.friendlyNameLength),
        contentType: shortString(b.contentType, 'file contentType', LIMITS.friendlyNameLength),
        size: nonNegative(b.size, 'file size'),
      }
      if (b.width !== undefined) out.width = nonNegative(b.width, 'file width')
      if (b.height !== undefined) out.height = nonNegative(b.height, 'file height')
      if (b.duration !== undefined) out.duration = nonNegative(b.duration, 'file duration')
      return out
    }
    default:
      throw invalidArgument('content block type must be text, location or file')
  }
}

/** Validates a message's blocks: 1..LIMITS.contentBlocks, total text within the body limit. */
export const checkContent = (content: unknown): ContentBlock[] => {
  if (!Array.isArray(content) || content.length === 0)
    throw invalidArgument('content must be a non-empty array of blocks')
  if (content.length > LIMITS.contentBlocks)
    throw invalidArgument(`a message holds at most ${LIMITS.contentBlocks} blocks`)
  const blocks = content.map(checkContentBlock)
  if (utf8Length(plaintextOf(blocks) ?? '') > LIMITS.messageBodyBytes)
    throw invalidArgument(`message text exceeds ${LIMITS.messageBodyBytes} bytes`)
  return blocks
}

/** The message's text for notifications and `body`: text blocks joined by newlines; null when none. */
export const plaintextOf = (blocks: readonly ContentBlock[]): string | null => {
  const texts = blocks.filter((b): b is TextBlock => b.type === 'text').map((b) => b.text)
  return texts.length === 0 ? null : texts.join('\n')
}
