/** The help text, made from the command table so it never disagrees with it. */
import type { Command } from "./types.js";

export function helpText(
  commands: readonly Command[],
  options: {
    prefix: string;
    inManagementRoom: boolean;
    networkName: string;
    /** bridge.space_name: the space the portals are put in. */
    spaceName: string;
  },
): string {
  const p = options.prefix;
  const intro = options.inManagementRoom
    ? `Commands (here no prefix is needed; in other rooms start them with \`${p}\`):`
    : `Commands (start each with \`${p}\`, e.g. \`${p} status\`; in your direct chat with me no prefix is needed):`;
  const lines = commands.map((c) => `- \`${c.usage}\`: ${c.summary}`);
  return [
    intro,
    ...lines,
    `Phone numbers are written in international format, e.g. +49 151 12345678.`,
    `Chats with ${options.networkName} users go into your "${options.spaceName}" space.`,
  ].join("\n");
}

export function helpCommand(
  commands: () => readonly Command[],
  networkName: () => string,
): Command {
  return {
    name: "help",
    usage: "help",
    summary: "this list",
    async run(_command, ctx, env) {
      await ctx.reply(
        helpText(commands(), {
          prefix: env.commandPrefix,
          inManagementRoom: ctx.inManagementRoom,
          networkName: networkName(),
          spaceName: env.spaceName,
        }),
      );
    },
  };
}
