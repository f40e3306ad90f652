import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"

const day = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
const dayName = "(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
const month = "(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
const time = "\\d{2}:\\d{2}:\\d{2}"
/** IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) and the obsolete rfc850-date and asctime-date. */
const imfFixdate = new RegExp(`^${day}, \\d{2} ${month} \\d{4} ${time} GMT$`)
const rfc850Date = new RegExp(`^${dayName}, \\d{2}-${month}-\\d{2} ${time} GMT$`)
const asctimeDate = new RegExp(`^${day} ${month} (?:\\d{2}| \\d) ${time} \\d{4}$`)

const HttpDate = Schema.transform(
  Schema.String.pipe(Schema.filter((s) => imfFixdate.test(s) || rfc850Date.test(s) || asctimeDate.test(s))),
  Schema.ValidDateFromSelf,
  {
    strict: true,
    // asctime-date has no zone: it is GMT (RFC 9110 §5.6.7), which Date.parse would not assume
    decode: (s) => new Date(asctimeDate.test(s) ? `${s} GMT` : s),
    encode: (date) => date.toUTCString()
  }
)

/**
 * `Retry-After` (RFC 9110 §10.2.3): delta-seconds (digits only: no sign, fraction or exponent) or an
 * HTTP-date (§5.6.7). Anything else is no `Retry-After` at all.
 *
 * @internal
 */
export const RetryAfter = Schema.Union(
  Schema.String.pipe(Schema.pattern(/^[0-9]+$/), Schema.compose(Schema.NumberFromString)),
  HttpDate
)

const decodeRetryAfter = Schema.decodeUnknownOption(RetryAfter)

/**
 * The wait a `Retry-After` asks for, from `now`; `undefined` when absent or not in an RFC 9110 form.
 *
 * @internal
 */
export const parseRetryAfter = (value: string | undefined, now: number): Duration.Duration | undefined => {
  if (value === undefined) return undefined
  // optional whitespace around a field value is not part of it (RFC 9110 §5.5)
  const decoded = decodeRetryAfter(value.replace(/^[ \t]+|[ \t]+$/g, ""))
  if (Option.isNone(decoded)) return undefined
  const retryAfter = decoded.value
  return typeof retryAfter === "number"
    ? Duration.seconds(retryAfter)
    : Duration.millis(Math.max(0, retryAfter.getTime() - now))
}
