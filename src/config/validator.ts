/** The compiled config schemas, with the two keywords of our own that they use. */
import { Ajv2020 } from "ajv/dist/2020.js";
import { decodeBase64 } from "./base64.js";
import type { RawConfig, RawRegistrationConfig } from "./raw.js";
import { CONFIG_SCHEMA, REGISTRATION_CONFIG_SCHEMA } from "./schema.js";

const ajv = new Ajv2020({ allErrors: true, verbose: true, strict: true });
// Annotation only: read by ./format-errors.ts.
ajv.addKeyword({ keyword: "expected", schemaType: "string" });
ajv.addKeyword({
  keyword: "base64Bytes",
  type: "string",
  schemaType: "number",
  validate: (bytes: number, data: string) => decodeBase64(data)?.length === bytes,
});

export const validateRawConfig = ajv.compile<RawConfig>(CONFIG_SCHEMA);

export const validateRegistrationConfig = ajv.compile<RawRegistrationConfig>(
  REGISTRATION_CONFIG_SCHEMA,
);
