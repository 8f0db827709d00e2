import { createSecretKey, type KeyObject } from 'node:crypto'
import { errors, importSPKI, jwtVerify, SignJWT } from 'jose'
import { ColloquyError } from '../src/errors.ts'
import { checkOptions } from '../src/options.ts'
import { checkIdentity } from '../src/schema/validate.ts'

const isValidIdentity = (identity: string): boolean => {
  try {
    checkIdentity(identity)
    return true
  } catch {
    return false
  }
}

/** How the relay checks tokens: a shared secret (HS256) or the app backend's public key (PEM). */
export interface AuthOptions {
  /** Shared secret for HS256 tokens (at least 32 bytes). */
  secret?: string
  /** SPKI PEM public key for asymmetric tokens. */
  publicKey?: string
  /** Algorithm of `publicKey` (default ES256). */
  algorithm?: 'ES256' | 'ES384' | 'RS256' | 'EdDSA'
  /** Expected `iss`, if any. */
  issuer?: string
  /** Expected `aud`, if any. */
  audience?: string
  /** Allowed clock skew in seconds (default 30). */
  clockToleranceSeconds?: number
}

/** Who the token says the caller is, and until when. */
export interface VerifiedToken {
  identity: string
  /** Expiry in ms since the epoch. */
  expiresAt: number
}

/** Verifies tokens; rejects with `UNAUTHORIZED` (bad token) or `REJECTED` with reason `expired`. */
export type TokenVerifier = (token: string) => Promise<VerifiedToken>

/**
 * Builds the verifier. Tokens must carry `sub` (the identity) and `exp`; the identity is taken
 * from the token alone, never from anything else the client says.
 */
export const createVerifier = async (options: AuthOptions): Promise<TokenVerifier> => {
  let key: KeyObject | CryptoKey
  let algorithms: string[]
  if (options.publicKey) {
    const alg = options.algorithm ?? 'ES256'
    key = await importSPKI(options.publicKey, alg)
    algorithms = [alg]
  } else if (options.secret) {
    if (Buffer.byteLength(options.secret) < 32)
      throw new ColloquyError('INVALID_ARGUMENT', 'the relay secret must be at least 32 bytes')
    key = createSecretKey(Buffer.from(options.secret))
    algorithms = ['HS256']
  } else {
    throw new ColloquyError('INVALID_ARGUMENT', 'the relay needs a token secret or public key')
  }
  return async (token) => {
    if (typeof token !== 'string' || token.length === 0 || token.length > 8192)
      throw new ColloquyError('UNAUTHORIZED', 'missing token')
    try {
      const { payload } = await jwtVerify(token, key, {
        algorithms,
        issuer: options.issuer,
        audience: options.audience,
        clockTolerance: options.clockToleranceSeconds ?? 30,
        requiredClaims: ['sub', 'exp'],
      })
      const identity = payload.sub
      if (typeof identity !== 'string' || !isValidIdentity(identity))
        throw new ColloquyError('UNAUTHORIZED', 'token subject is not a valid identity')
      return { identity, expiresAt: (payload.exp as number) * 1000 }
    } catch (error) {
      if (error instanceof ColloquyError) throw error
      if (error instanceof errors.JWTExpired) throw new ColloquyError('REJECTED', 'token expired')
      throw new ColloquyError('UNAUTHORIZED', 'invalid token')
    }
  }
}

const SIGN_OPTIONS = { identity: true, secret: true, expiresInSeconds: true, issuer: true, audience: true } as const

/**
 * Signs an HS256 token for `identity`: what an app backend does after it has logged the user in.
 *
 * @example
 * const token = await signToken({ identity: 'alice', secret: process.env.COLLOQUY_SECRET!, expiresInSeconds: 3600 })
 */
export const signToken = async (options: {
  identity: string
  secret: string
  expiresInSeconds?: number
  issuer?: string
  audience?: string
}): Promise<string> => {
  const { identity, secret, expiresInSeconds } = checkOptions(options, SIGN_OPTIONS, 'signToken')
  // Any string: tests sign tokens with malformed subjects on purpose; the relay refuses those.
  if (typeof identity !== 'string') throw new ColloquyError('INVALID_ARGUMENT', 'signToken: identity must be a string')
  if (typeof secret !== 'string' || Buffer.byteLength(secret) < 32)
    throw new ColloquyError('INVALID_ARGUMENT', 'signToken: secret must be a string of at least 32 bytes')
  // Negative lifetimes are allowed: tests sign expired tokens with them.
  if (expiresInSeconds !== undefined && !Number.isSafeInteger(expiresInSeconds))
    throw new ColloquyError('INVALID_ARGUMENT', 'signToken: expiresInSeconds must be an integer')
  let jwt = new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(options.identity)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + (options.expiresInSeconds ?? 3600))
  if (options.issuer) jwt = jwt.setIssuer(options.issuer)
  if (options.audience) jwt = jwt.setAudience(options.audience)
  return jwt.sign(createSecretKey(Buffer.from(options.secret)))
}
