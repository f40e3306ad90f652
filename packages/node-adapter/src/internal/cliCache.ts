import * as AccessToken from "@oauth-cc/core/AccessToken"
import type * as TokenStore from "@oauth-cc/core/TokenStore"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Crypto from "node:crypto"
import { constants as fsConstants } from "node:fs"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"

/**
 * The CLI's opt-in token cache: a `TokenStore` in files, so the provider keys it (the same key as `getFor`:
 * endpoint, client, method, scope, audience, resource, extra parameters) and judges expiry and skew exactly
 * as it does in memory. Each token is sealed with AES-256-GCM under a key derived (scrypt) from the key the
 * user gives; the file name is an HMAC of the cache key, bound to the ciphertext as associated data. Files
 * are 0600 in a 0700 directory. A file that does not open (tampered, another key, truncated) counts as
 * absent: the token is fetched again and the file replaced.
 */

/** The file's envelope; its fields are decoded before anything is decrypted. */
const Envelope = Schema.parseJson(Schema.Struct({
  v: Schema.Literal(1),
  iv: Schema.String,
  tag: Schema.String,
  data: Schema.String
}))

/** What is sealed. */
const Sealed = Schema.parseJson(Schema.Struct({
  key: Schema.String,
  value: Schema.NonEmptyString,
  tokenType: Schema.String,
  issuedAt: Schema.Number,
  expiresAt: Schema.Number,
  scope: Schema.Array(Schema.String)
}))

/** @internal */
export interface CacheKeys {
  readonly encryption: Buffer
  readonly naming: Buffer
}

/** scrypt (N = 2^15) over the user's key, then one HKDF per use: a passphrase is as good as a random key. @internal */
export const deriveKeys = (secret: Redacted.Redacted<string>): Effect.Effect<CacheKeys> =>
  Effect.async<CacheKeys>((resume) => {
    Crypto.scrypt(
      Redacted.value(secret),
      "oauth-cc token cache v1",
      32,
      { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 },
      (error, master) => {
        if (error) return resume(Effect.die(error))
        const hkdf = (info: string) => Buffer.from(Crypto.hkdfSync("sha256", master, Buffer.alloc(0), info, 32))
        resume(Effect.succeed({ encryption: hkdf("encryption"), naming: hkdf("file names") }))
      }
    )
  })

/** `$OAUTH_CC_CACHE_DIR`, else `$XDG_CACHE_HOME/oauth-cc`, else `~/.cache/oauth-cc`. @internal */
export const defaultDir = (env: NodeJS.ProcessEnv): string =>
  env.OAUTH_CC_CACHE_DIR ??
    path.join(env.XDG_CACHE_HOME ?? path.join(env.HOME ?? os.homedir(), ".cache"), "oauth-cc")

const fileOf = (dir: string, keys: CacheKeys, key: string) => {
  const name = Crypto.createHmac("sha256", keys.naming).update(key).digest("hex")
  return { name, file: path.join(dir, `${name}.token`) }
}

const open = (keys: CacheKeys, name: string, text: string, key: string): Option.Option<AccessToken.AccessToken> => {
  const envelope = Schema.decodeUnknownEither(Envelope)(text)
  if (Either.isLeft(envelope)) return Option.none()
  try {
    const { data, iv, tag } = envelope.right
    const decipher = Crypto.createDecipheriv("aes-256-gcm", keys.encryption, Buffer.from(iv, "base64"))
    decipher.setAAD(Buffer.from(name))
    decipher.setAuthTag(Buffer.from(tag, "base64"))
    const plain = Buffer.concat([decipher.update(Buffer.from(data, "base64")), decipher.final()]).toString("utf8")
    const sealed = Schema.decodeUnknownEither(Sealed)(plain)
    if (Either.isLeft(sealed) || sealed.right.key !== key) return Option.none()
    const { issuedAt, expiresAt, scope, tokenType, value } = sealed.right
    return Option.some(AccessToken.make({ value, tokenType, issuedAt, expiresAt, scope }))
  } catch {
    // a wrong tag, key or IV: tampered, or sealed under another key
    return Option.none()
  }
}

const seal = (keys: CacheKeys, name: string, key: string, token: AccessToken.AccessToken): string => {
  const iv = Crypto.randomBytes(12)
  const cipher = Crypto.createCipheriv("aes-256-gcm", keys.encryption, iv)
  cipher.setAAD(Buffer.from(name))
  const plain = JSON.stringify({
    key,
    value: Redacted.value(token.value),
    tokenType: token.tokenType,
    issuedAt: token.issuedAt,
    expiresAt: token.expiresAt,
    scope: token.scope
  })
  const data = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()])
  return JSON.stringify({
    v: 1,
    iv: iv.toString("base64"),
    tag: cipher.getAuthTag().toString("base64"),
    data: data.toString("base64")
  })
}

/** The largest cache file read: a sealed token is a few KB; anything bigger was not written by us. @internal */
export const maxCacheFileBytes = 64 * 1024

const { O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK, O_RDONLY } = fsConstants

/**
 * Why the cache directory cannot be used, or undefined when it is a directory of ours (not a symlink, owned by
 * the user). Opened with O_NOFOLLOW and checked on the open handle, then `fix` runs on that same handle (the
 * chmod to 0700 never goes through a symlink to someone else's directory).
 */
const checkedDir = async (
  dir: string,
  fix?: (handle: fs.FileHandle) => Promise<void>
): Promise<string | undefined> => {
  let handle: fs.FileHandle
  try {
    handle = await fs.open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code
    if (code !== "ELOOP" && code !== "ENOTDIR") return `cannot open it (${code})`
    // O_NOFOLLOW with O_DIRECTORY refuses a symlink with either code: lstat says which it was
    const link = await fs.lstat(dir).then((stat) => stat.isSymbolicLink(), () => false)
    return link ? "it is a symlink" : "it is not a directory"
  }
  try {
    const stat = await handle.stat()
    if (!stat.isDirectory()) return "it is not a directory"
    const uid = process.getuid?.()
    if (uid !== undefined && stat.uid !== uid) return "it is not owned by the user"
    if (fix !== undefined) await fix(handle)
    return undefined
  } finally {
    await handle.close()
  }
}

/**
 * A cache file's text, or undefined: opened without following a symlink and without blocking (a FIFO),
 * read only when it is a regular file of at most `maxCacheFileBytes`, and never more than that.
 *
 * @internal
 */
export const readCacheFile = async (file: string): Promise<string | undefined> => {
  let handle: fs.FileHandle
  try {
    handle = await fs.open(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK)
  } catch {
    return undefined
  }
  try {
    const stat = await handle.stat()
    if (!stat.isFile() || stat.size > maxCacheFileBytes) return undefined
    const buffer = Buffer.alloc(maxCacheFileBytes + 1)
    let length = 0
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length)
      if (bytesRead === 0) break
      length += bytesRead
    }
    return length > maxCacheFileBytes ? undefined : buffer.subarray(0, length).toString("utf8")
  } catch {
    return undefined
  } finally {
    await handle.close().catch(() => undefined)
  }
}

/** Skipping the cache is said on stderr under `-v` only: the command works without it. */
const skipped = (dir: string, why: string) =>
  Effect.logDebug(`oauth-cc: token cache skipped: the cache directory ${dir} is unsafe (${why})`)

/**
 * An encrypted file `TokenStore` in `dir`. Failing to read or write the cache never fails a command: it only
 * costs a token request. Files are read with `readCacheFile`; a directory that is a symlink, not a directory
 * or not the user's is neither read nor written (nor chmod-ed), which `-v` reports.
 *
 * @internal
 */
export const makeFileStore = (dir: string, keys: CacheKeys): TokenStore.Service => {
  const read = (key: string) => {
    const { file, name } = fileOf(dir, keys, key)
    return Effect.promise(async () => {
      const why = await checkedDir(dir)
      // a missing directory has nothing to read, and is not worth a warning
      if (why !== undefined) return { why: why.startsWith("cannot open it (ENOENT") ? undefined : why }
      return { text: await readCacheFile(file) }
    }).pipe(
      Effect.tap((result) => result.why === undefined ? Effect.void : skipped(dir, result.why)),
      Effect.map((result) =>
        result.text === undefined ? Option.none<AccessToken.AccessToken>() : open(keys, name, result.text, key)
      ),
      // the file keeps expiry on the wall clock, which later processes share; the provider reads monotonic time
      Effect.flatMap(Option.match({
        onNone: () => Effect.succeedNone,
        onSome: (token) => Effect.map(AccessToken.fromWallClock(token), Option.some)
      }))
    )
  }
  return {
    get: read,
    set: (key, monotonic) =>
      Effect.flatMap(AccessToken.toWallClock(monotonic), (token) =>
        Effect.promise(async () => {
          const { file, name } = fileOf(dir, keys, key)
          await fs.mkdir(dir, { recursive: true, mode: 0o700 })
          const why = await checkedDir(dir, (handle) => handle.chmod(0o700))
          if (why !== undefined) return why
          const temp = `${file}.${Crypto.randomBytes(6).toString("hex")}.tmp`
          await fs.writeFile(temp, seal(keys, name, key, token), { mode: 0o600, flag: "wx" })
          await fs.rename(temp, file)
          return undefined
        }).pipe(Effect.flatMap((why) => why === undefined ? Effect.void : skipped(dir, why)))).pipe(
          Effect.catchAllDefect(() => Effect.void)
        ),
    remove: (key, token) =>
      Effect.flatMap(
        read(key),
        (kept) =>
          Option.isSome(kept) && token !== undefined && !AccessToken.isSameValue(kept.value, token)
            ? Effect.void
            : Effect.promise(() => fs.rm(fileOf(dir, keys, key).file, { force: true }).catch(() => undefined))
      ),
    withFetchLock: (_key, fetch) => fetch,
    shared: false
  }
}
