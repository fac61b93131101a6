/**
 * JSON Schema (draft 2020-12) of config.yaml, as written by the admin (snake_case, defaults
 * not yet applied). Two keywords are our own (./validator.ts): `expected`, the phrase an
 * error message uses to say what a value must be, so messages read "must be a ws:// or
 * wss:// URL" rather than quoting a regular expression; and `base64Bytes`, the decoded
 * length of a base64 string. Rules across keys are checked in ./semantics.ts.
 */

const port = {
  type: "integer",
  minimum: 1,
  maximum: 65535,
  expected: "a port number (1-65535)",
} as const;

const bindAddress = {
  type: "string",
  minLength: 1,
  expected: "an IP address or host name to listen on",
} as const;

const httpUrl = {
  type: "string",
  pattern: "^https?://[^\\s/?#]+[^\\s]*$",
  expected: "an http:// or https:// URL",
} as const;

const SECTION = "a mapping of settings (key: value lines)";

const megabytes = {
  type: "number",
  exclusiveMinimum: 0,
  maximum: 4096,
  expected: "a size in MB greater than 0 (fractions allowed), at most 4096",
} as const;

// Matrix user ID localparts (spec: historical user IDs aside, [a-z0-9._=/+-]).
const LOCALPART_CHARS = "[a-z0-9._=/+-]";

export const CONFIG_SCHEMA = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  type: "object",
  additionalProperties: false,
  required: ["homeserver", "gatekeeper"],
  properties: {
    homeserver: {
      type: "object",
      expected: SECTION,
      additionalProperties: false,
      required: ["url", "domain"],
      properties: {
        url: httpUrl,
        domain: {
          type: "string",
          pattern: "^([A-Za-z0-9.-]+|\\[[0-9A-Fa-f:.]+\\])(:[0-9]{1,5})?$",
          expected: "a server name such as example.org (the part after the colon in user IDs)",
        },
      },
    },
    appservice: {
      type: "object",
      expected: SECTION,
      additionalProperties: false,
      properties: {
        port,
        bind_address: bindAddress,
        id: {
          type: "string",
          pattern: "^[A-Za-z0-9._~-]+$",
          expected: "a registration id of letters, digits, '.', '_', '~' or '-'",
        },
        bot: {
          type: "object",
          expected: SECTION,
          additionalProperties: false,
          properties: {
            localpart: {
              type: "string",
              pattern: `^${LOCALPART_CHARS}+$`,
              expected: "a user ID localpart (lower-case letters, digits and ._=/+-)",
            },
            display_name: { type: "string", minLength: 1, expected: "a non-empty name" },
            avatar: {
              type: "string",
              pattern: "^mxc://[^/\\s]+/[^/\\s]+$",
              expected: "an mxc:// URI",
            },
          },
        },
      },
    },
    gatekeeper: {
      type: "object",
      expected: SECTION,
      additionalProperties: false,
      required: ["url", "static_key", "partner_id", "partner_secret", "public_base_url"],
      properties: {
        url: {
          type: "string",
          pattern: "^wss?://[^\\s/?#]+[^\\s]*$",
          expected: "a ws:// or wss:// URL",
        },
        static_key: {
          type: "string",
          base64Bytes: 32,
          expected: "32 bytes of base64",
        },
        partner_id: {
          type: "string",
          pattern: "^[a-z0-9-]{1,32}$",
          expected: "the partner id the gatekeeper assigned (1-32 of a-z, 0-9, '-')",
        },
        partner_secret: {
          type: "string",
          minLength: 16,
          expected: "a secret of at least 16 characters",
        },
        public_base_url: httpUrl,
        listen: {
          type: "object",
          expected: SECTION,
          additionalProperties: false,
          properties: { port, bind_address: bindAddress },
        },
        user_agent: { type: "string", minLength: 1, maxLength: 200, expected: "a short text" },
      },
    },
    database: {
      type: "object",
      expected: SECTION,
      additionalProperties: false,
      properties: {
        type: { enum: ["sqlite", "postgres"], expected: 'either "sqlite" or "postgres"' },
        filename: { type: "string", minLength: 1, expected: "a file path" },
        url: {
          type: "string",
          pattern: "^postgres(ql)?://",
          expected: "a postgres:// or postgresql:// URL",
        },
      },
    },
    bridge: {
      type: "object",
      expected: SECTION,
      additionalProperties: false,
      properties: {
        username_template: {
          type: "string",
          pattern: `^${LOCALPART_CHARS}*\\{\\{id\\}\\}${LOCALPART_CHARS}*$`,
          expected:
            "a localpart template containing {{id}} once (other characters: a-z 0-9 ._=/+-)",
        },
        displayname_template: {
          type: "string",
          minLength: 1,
          pattern: "^([^{}]|\\{\\{(name|phone|id)\\}\\})*$",
          expected: "a text that may use {{name}}, {{phone}} and {{id}}",
        },
        permissions: {
          type: "object",
          expected: "a mapping of who → level",
          propertyNames: {
            pattern: "^(\\*|@[^:\\s]+:[^\\s]+|[A-Za-z0-9.-]+(:[0-9]{1,5})?)$",
            expected: '"*", a server name (example.org) or a user ID (@alice:example.org)',
          },
          additionalProperties: {
            enum: ["none", "user", "admin"],
            expected: 'one of "user", "admin" or "none"',
          },
        },
        command_prefix: {
          type: "string",
          pattern: "^\\S+$",
          expected: "a word without spaces, such as !gk",
        },
        space_name: { type: "string", minLength: 1, expected: "a non-empty name" },
        max_send_attempts: {
          type: "integer",
          minimum: 1,
          maximum: 100,
          expected: "a whole number from 1 to 100",
        },
        message_requests: { type: "boolean", expected: "true or false" },
        message_status_events: { type: "boolean", expected: "true or false" },
        identity_change: {
          enum: ["keep-sending", "hold"],
          expected: 'either "keep-sending" or "hold"',
        },
        edit_window_seconds: {
          type: "integer",
          minimum: 0,
          maximum: 7 * 24 * 3600,
          expected: "a number of seconds from 0 (no edits) to 604800 (7 days)",
        },
        media: {
          type: "object",
          expected: SECTION,
          additionalProperties: false,
          properties: {
            max_size_mb: {
              type: "object",
              expected: SECTION,
              additionalProperties: false,
              properties: {
                image: megabytes,
                video: megabytes,
                audio: megabytes,
                file: megabytes,
              },
            },
            directory: { type: "string", minLength: 1, expected: "a folder path" },
            hosted_expiry_seconds: {
              type: "integer",
              minimum: 1,
              maximum: 30 * 24 * 3600,
              expected: "a number of seconds from 1 to 2592000 (30 days)",
            },
          },
        },
      },
    },
    logging: {
      type: "object",
      expected: SECTION,
      additionalProperties: false,
      properties: {
        level: {
          enum: ["error", "warn", "info", "debug"],
          expected: 'one of "error", "warn", "info", "debug"',
        },
        format: { enum: ["text", "json"], expected: 'either "text" or "json"' },
      },
    },
    metrics: {
      type: "object",
      expected: SECTION,
      additionalProperties: false,
      properties: {
        enabled: { type: "boolean", expected: "true or false" },
        port,
        bind_address: bindAddress,
      },
    },
    scale: {
      type: "object",
      expected: SECTION,
      additionalProperties: false,
      properties: {
        role: {
          enum: ["all", "intake", "worker"],
          expected: 'one of "all", "intake" or "worker"',
        },
        // Shown in `status` and in logs, so kept short and plain.
        worker_id: {
          type: "string",
          pattern: "^[A-Za-z0-9._:-]{1,64}$",
          expected: "a name of letters, digits and . _ : - (at most 64 characters)",
        },
        lease_seconds: {
          type: "integer",
          minimum: 5,
          maximum: 300,
          expected: "a number of seconds from 5 to 300",
        },
        renew_seconds: {
          type: "integer",
          minimum: 1,
          maximum: 60,
          expected: "a number of seconds from 1 to 60",
        },
      },
    },
  },
} as const;

/**
 * What generating the registration reads: the homeserver, the appservice section and the
 * puppets' username template. The other sections may still be unfinished (no partner secret
 * yet), so they are not checked here; unknown top-level keys still are.
 */
export const REGISTRATION_CONFIG_SCHEMA = {
  $schema: CONFIG_SCHEMA.$schema,
  type: "object",
  additionalProperties: false,
  required: ["homeserver"],
  properties: {
    ...Object.fromEntries(Object.keys(CONFIG_SCHEMA.properties).map((k) => [k, {}])),
    homeserver: CONFIG_SCHEMA.properties.homeserver,
    appservice: CONFIG_SCHEMA.properties.appservice,
    bridge: {
      type: "object",
      expected: SECTION,
      properties: {
        username_template: CONFIG_SCHEMA.properties.bridge.properties.username_template,
      },
    },
  },
} as const;

/** Config keys whose values must never appear in an error message. */
export const SECRET_PATHS: ReadonlySet<string> = new Set([
  "gatekeeper.partner_secret",
  "database.url",
]);
