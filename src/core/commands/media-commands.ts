/** limits: what media the bridge relays, and how large. */
import { describeLimits } from "../media.js";
import type { MediaLimits } from "../media.js";
import type { Command } from "./types.js";

interface MediaInfo {
  readonly enabled: boolean;
  readonly limits: MediaLimits;
}

/** One line for help and `limits`, from the limits as they are (config capped by the network). */
export function limitsLine(media: MediaInfo | undefined): string {
  if (!media?.enabled) return "This bridge relays text only, no media.";
  return (
    `Media both ways: ${describeLimits(media.limits)}. ` +
    `Voice messages go as voice messages, captions both ways; a larger file is refused with a notice.`
  );
}

export function limitsCommand(media: MediaInfo | undefined): Command {
  return {
    name: "limits",
    usage: "limits",
    summary: media?.enabled
      ? `the largest media the bridge relays (${describeLimits(media.limits)})`
      : "what the bridge relays (text only, no media)",
    async run(_command, ctx) {
      await ctx.reply(limitsLine(media));
    },
  };
}
