export { type ContentBlock, checkContent, plaintextOf } from './content.js'
export { applyPatch, checkAttributes, cloneJson, type JsonObject, type JsonValue, jsonEqual } from './json.js'
export { DEFAULT_PAGE_SIZE, DEFAULT_TYPING_TIMEOUT, LIMITS } from './limits.js'
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
} from './validate.js'
