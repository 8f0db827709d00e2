export { type ContentBlock, checkContent, plaintextOf } from './content.ts'
export { applyPatch, checkAttributes, cloneJson, type JsonObject, type JsonValue, jsonEqual } from './json.ts'
export { DEFAULT_PAGE_SIZE, DEFAULT_TYPING_TIMEOUT, LIMITS } from './limits.ts'
export {
  checkCount,
  checkEmoji,
  checkIdentity,
  checkIndex,
  checkOneOf,
  checkOptionalName,
  checkPageSize,
  checkSignal,
  checkUniqueName,
  checkUrl,
  type NotificationLevel,
} from './validate.ts'
