import * as AccessToken from "@oauth-cc/core/AccessToken"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Crypto from "node:crypto"

/**
 * Keys derived from the configured secret: one encrypts values (AES-256-GCM), one names Redis keys
 * (HMAC-SHA-256), so a fleet with another secret neither reads nor collides with this one's entries.
 *
 * @internal
 */
export interface Keys {
  readonly encryption: Crypto.KeyObject
  readonly naming: Crypto.KeyObject
}

/** Every process of a fleet must derive the same keys, so the salt is fixed (and versioned). */
const salt = "oauth-cc/redis-token-store/v1"

/** scrypt: a weak passphrase costs an attacker ~16 MiB and tens of milliseconds per guess. */
const scryptParams: Crypto.ScryptOptions = { N: 2 ** 14, r: 8, p: 1, maxmem: 64 * 1024 * 1024 }

/** @internal */
export const deriveKeys = (secret: Redacted.Redacted<string>): Effect.Effect<Keys> =>
  Effect.async<Keys>((resume) => {
    Crypto.scrypt(Redacted.value(secret), salt, 64, scryptParams, (error, derived) => {
      if (error !== null) {
        return resume(Effect.die(new Error(`RedisTokenStore: key derivation failed: ${error.message}`)))
      }
      resume(Effect.succeed({
        encryption: Crypto.createSecretKey(derived.subarray(0, 32)),
        naming: Crypto.createSecretKey(derived.subarray(32, 64))
      }))
    })
  })

/**
 * The Redis name of a core cache key: HMAC-SHA-256, hex. The cache key holds the token endpoint, client id,
 * auth method and normalized scope/audience/resource — never the secret — and the name reveals none of them.
 *
 * @internal
 */
export const keyName = (keys: Keys, cacheKey: string): string =>
  Crypto.createHmac("sha256", keys.naming).update(cacheKey).digest("hex")

const version = "v1."
const ivLength = 12
const tagLength = 16

const Stored = Schema.Struct({
  v: Schema.String,
  t: Schema.String,
  i: Schema.Number,
  e: Schema.Number,
  s: Schema.Array(Schema.String)
})
const decodeStored = Schema.decodeUnknownOption(Schema.parseJson(Stored))

/** The additional data: the value is only valid under the Redis key it was written to, with its expiry. */
const aad = (redisKey: string, expiresAt: number) => Buffer.from(`${redisKey}\n${expiresAt}`, "utf8")

/**
 * Seals a token for Redis: `v1.<expiresAt>.<base64url(iv | ciphertext | tag)>`. The expiry is in clear so
 * that a Lua script can tell a newer token from an older one; it is authenticated as part of the AAD.
 *
 * @internal
 */
export const seal = (keys: Keys, redisKey: string, token: AccessToken.AccessToken): string => {
  const plaintext = JSON.stringify({
    v: Redacted.value(token.value),
    t: token.tokenType,
    i: token.issuedAt,
    e: token.expiresAt,
    s: token.scope
  })
  const iv = Crypto.randomBytes(ivLength)
  const cipher = Crypto.createCipheriv("aes-256-gcm", keys.encryption, iv, { authTagLength: tagLength })
  cipher.setAAD(aad(redisKey, token.expiresAt))
  const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()])
  return `${version}${token.expiresAt}.${Buffer.concat([iv, ciphertext, cipher.getAuthTag()]).toString("base64url")}`
}

/** @internal */
export const expiresAtOf = (sealed: string): number | undefined => {
  if (!sealed.startsWith(version)) return undefined
  const dot = sealed.indexOf(".", version.length)
  if (dot < 0) return undefined
  const expiresAt = Number(sealed.slice(version.length, dot))
  return Number.isSafeInteger(expiresAt) ? expiresAt : undefined
}

/**
 * Opens a sealed value; `None` when it is malformed, was written under another key or secret, or was
 * tampered with (GCM authentication fails).
 *
 * @internal
 */
export const open = (keys: Keys, redisKey: string, sealed: string): Option.Option<AccessToken.AccessToken> => {
  const expiresAt = expiresAtOf(sealed)
  if (expiresAt === undefined) return Option.none()
  const bytes = Buffer.from(sealed.slice(sealed.indexOf(".", version.length) + 1), "base64url")
  if (bytes.length <= ivLength + tagLength) return Option.none()
  let plaintext: string
  try {
    const decipher = Crypto.createDecipheriv("aes-256-gcm", keys.encryption, bytes.subarray(0, ivLength), {
      authTagLength: tagLength
    })
    decipher.setAAD(aad(redisKey, expiresAt))
    decipher.setAuthTag(bytes.subarray(bytes.length - tagLength))
    plaintext = Buffer.concat([decipher.update(bytes.subarray(ivLength, bytes.length - tagLength)), decipher.final()])
      .toString("utf8")
  } catch {
    return Option.none()
  }
  return Option.flatMap(
    decodeStored(plaintext),
    (stored) =>
      stored.e !== expiresAt ? Option.none() : Option.some(AccessToken.make({
        value: stored.v,
        tokenType: stored.t,
        issuedAt: stored.i,
        expiresAt: stored.e,
        scope: stored.s
      }))
  )
}
