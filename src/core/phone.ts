import {
  ParseError,
  parsePhoneNumberWithError,
  validatePhoneNumberLength,
} from "libphonenumber-js";
import { excerpt } from "../util/unicode.js";

/**
 * Phone numbers as users type them ("+49 151 1234 5678", "0049-151-12345678") → E.164,
 * with an error that says what was wrong. Country codes are required: the bridge serves
 * users of any country and has no sensible default one.
 */
export type PhoneParseResult =
  { ok: true; e164: string } | { ok: false; code: PhoneErrorCode; message: string };

export type PhoneErrorCode =
  "empty" | "no-country-code" | "not-a-number" | "too-short" | "too-long" | "invalid";

export const PHONE_EXAMPLE = "+49 151 12345678";

export function parsePhone(input: string): PhoneParseResult {
  let text = input.trim();
  if (text === "") return fail("empty", "no phone number was given");
  // The messages quote what was typed, which may be anything of any length.
  const shown = excerpt(text);
  // "00" is the international call prefix in most countries; treat it as "+".
  if (/^00[1-9]/.test(text)) text = `+${text.slice(2)}`;
  if (/[A-Za-z]/.test(text.replace(/^tel:/i, "")))
    return fail("not-a-number", `"${shown}" is not a phone number`);
  if (!text.startsWith("+")) {
    return fail(
      "no-country-code",
      `"${shown}" has no country code; write it in international format, starting with + and the country code`,
    );
  }
  try {
    const parsed = parsePhoneNumberWithError(text);
    switch (validatePhoneNumberLength(text)) {
      case undefined:
        break;
      case "TOO_SHORT":
        return fail("too-short", `${parsed.number} is too short for a number of its country`);
      case "TOO_LONG":
        return fail("too-long", `${parsed.number} is too long for a number of its country`);
      default:
        return fail("invalid", `${parsed.number} has a length no number of its country has`);
    }
    if (!parsed.isValid())
      return fail("invalid", `${parsed.number} is not a valid number for its country`);
    return { ok: true, e164: parsed.number };
  } catch (err) {
    if (!(err instanceof ParseError)) throw err;
    switch (err.message) {
      case "INVALID_COUNTRY":
        return fail("no-country-code", `"${shown}" does not start with a known country code`);
      case "TOO_SHORT":
        return fail("too-short", `"${shown}" is too short to be a phone number`);
      case "TOO_LONG":
        return fail("too-long", `"${shown}" is too long to be a phone number`);
      default:
        return fail("not-a-number", `"${shown}" is not a phone number`);
    }
  }
}

function fail(code: PhoneErrorCode, message: string): PhoneParseResult {
  return { ok: false, code, message };
}
