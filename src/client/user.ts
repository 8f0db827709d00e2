import type { Awareness } from 'y-protocols/awareness'
import * as Y from 'yjs'
import { forbidden } from '../errors.ts'
import { Emitter } from '../events.ts'
import { LOCAL_ORIGIN } from '../origins.ts'
import { applyPatch, checkAttributes, cloneJson, type JsonObject } from '../schema/json.ts'
import { LIMITS } from '../schema/limits.ts'
import { checkOptionalName, checkUrl } from '../schema/validate.ts'

/** Why a user changed (Twilio's `updateReasons`). */
export type UserUpdateReason = 'friendlyName' | 'attributes' | 'photoUrl' | 'reachabilityOnline'

/** Events of a `User`. */
export interface UserEvents {
  updated(payload: { user: User; updateReasons: UserUpdateReason[] }): void
  // biome-ignore lint/suspicious/noExplicitAny: index signature required by EventMap
  [key: string]: (...args: any[]) => void
}

/** @internal What a user needs from its client. */
export interface UserHost {
  readonly identity: string
  now(): number
  persist(doc: Y.Doc): Promise<void>
  onError(error: unknown): void
  /**
   * Whether this user's presence is known: the client is connected and has the relay's answer for
   * the user's document (the relay sends presence before that answer, and no state means offline).
   */
  presenceKnown(identity: string): boolean
  /** Whether the user's profile document is as the relay has it (always, without a relay). */
  profileKnown(identity: string): boolean
}

/** The profile map of a user document. */
export const profileOf = (doc: Y.Doc): Y.Map<unknown> => doc.getMap('profile')

/**
 * A person: identity, friendly name, photo and attributes. Profiles sync between devices and to
 * everyone who shares a conversation with them; only the person may change their own profile.
 */
export class User extends Emitter<UserEvents> {
  readonly identity: string
  readonly #doc: Y.Doc
  readonly #host: UserHost
  /** @internal Presence: the relay publishes `{ online: true }` here while the user is connected. */
  readonly _awareness: Awareness | null
  /** The `isOnline` last announced, so `reachabilityOnline` fires only when it changes. */
  #announced: boolean | null = null

  /** @internal */
  constructor(identity: string, doc: Y.Doc, host: UserHost, awareness: Awareness | null) {
    super((error) => host.onError(error))
    this.identity = identity
    this.#doc = doc
    this.#host = host
    this._awareness = awareness
    awareness?.on('change', () => this._reachabilityChanged())
    profileOf(doc).observe((event) => {
      const reasons = [...event.keysChanged].filter((k): k is UserUpdateReason =>
        ['friendlyName', 'attributes', 'photoUrl'].includes(k),
      )
      if (reasons.length > 0) this.emit('updated', { user: this, updateReasons: reasons })
    })
  }

  /** Display name, or null when never set. */
  get friendlyName(): string | null {
    return (profileOf(this.#doc).get('friendlyName') as string | undefined) ?? null
  }

  /** Profile photo URL, or null. */
  get photoUrl(): string | null {
    return (profileOf(this.#doc).get('photoUrl') as string | undefined) ?? null
  }

  /** Custom data (a JSON object). */
  get attributes(): JsonObject {
    return cloneJson(
      (profileOf(this.#doc).get('attributes') as JsonObject | undefined) ?? {},
      'attributes',
    ) as JsonObject
  }

  /**
   * Whether the user is connected to the relay now; `null` while unknown: there is no relay, I am
   * not connected myself, or the relay's answer about them has not arrived yet (as Twilio's
   * `isOnline` is null before reachability is known).
   */
  get isOnline(): boolean | null {
    const aw = this._awareness
    if (!aw || !this.#host.presenceKnown(this.identity)) return null
    for (const [clientID, state] of aw.getStates()) {
      if (clientID !== aw.clientID && (state as { online?: unknown }).online === true) return true
    }
    return false
  }

  /**
   * Whether this person has a profile: `true` once they have written one (a name, photo or
   * attributes) and it reached this device; `false` when there is none, as far as the relay knows
   * (its answer for their profile has arrived) or, without a relay, on this device; `null` until
   * that answer arrives. `getUser` resolves for any well-formed identity, because identities come
   * from the app's tokens and colloquy keeps no list of users: an identity that never signed in,
   * and one that signed in but never set a profile, both read `false`.
   */
  get hasProfile(): boolean | null {
    if (profileOf(this.#doc).size > 0) return true
    return this.#host.profileKnown(this.identity) ? false : null
  }

  /** Whether this is the signed-in user. */
  get isMe(): boolean {
    return this.identity === this.#host.identity
  }

  /** Sets the display name (your own profile only). */
  async updateFriendlyName(name: string | null): Promise<void> {
    const value = checkOptionalName(name, 'friendlyName', LIMITS.friendlyNameLength)
    await this.#write('friendlyName', value)
  }

  /** Sets the photo URL (your own profile only). */
  async updatePhotoUrl(url: string | null): Promise<void> {
    await this.#write('photoUrl', checkUrl(url, 'photoUrl'))
  }

  /** Replaces the attributes (your own profile only). */
  async updateAttributes(attributes: JsonObject): Promise<void> {
    await this.#write('attributes', checkAttributes(attributes, LIMITS.attributesBytes))
  }

  /** Patches the attributes: `null` deletes a key, `undefined` keeps it (your own profile only). */
  async patchAttributes(patch: Record<string, unknown>): Promise<void> {
    await this.#write(
      'attributes',
      checkAttributes(applyPatch(this.attributes, patch, 'attributes'), LIMITS.attributesBytes),
    )
  }

  async #write(key: string, value: unknown): Promise<void> {
    if (!this.isMe) throw forbidden(`only ${this.identity} may change their profile`)
    Y.transact(this.#doc, () => profileOf(this.#doc).set(key, value), LOCAL_ORIGIN)
    await this.#host.persist(this.#doc)
  }

  /** @internal Presence or what is known of it may have changed: announces `isOnline` if it did. */
  _reachabilityChanged(): void {
    const now = this.isOnline
    if (now === this.#announced) return
    this.#announced = now
    this.emit('updated', { user: this, updateReasons: ['reachabilityOnline'] })
  }
}
