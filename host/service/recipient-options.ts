/**
 * Each recipient's effective policy options for one agent: the agent section over [global],
 * refined by the agent's user_config file (SPEC §5). The daemon decides with these, and the
 * SMTP and milter agents use the same function at RCPT time to keep recipients whose options
 * differ out of one transaction, so both sides always agree on what "the same policy" is.
 */
import type { Config } from "../config/load.js";
import { type AgentSection, optionsFor } from "../config/schema.js";
import { displayOptionValue } from "../config/values.js";
import { type RecipientOptions, resolveUserConfig } from "../policy/user-config.js";
import type { UserConfigCache } from "./user-config-file.js";

export interface RecipientContext {
  agent: AgentSection;
  sender?: string;
  recipients?: string[];
  clientAddr?: string;
  serverAddr?: string;
}

/** The options a user_config section may refine, as the agent section gives them. */
export function agentBaseOptions(config: Config, agent: AgentSection): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  const section = config.section(agent);
  for (const spec of optionsFor(agent)) if (spec.inherit) out[spec.key] = displayOptionValue(spec, section[spec.key]);
  return out;
}

/** One entry per recipient (one with recipient "" when there are none), plus the message
 *  addresses that matched nothing because they are not plain addresses. Throws
 *  UserConfigFileError while the agent's user_config file is broken. */
export function recipientOptions(config: Config, cache: UserConfigCache, ctx: RecipientContext): { perRecipient: RecipientOptions[]; ignored: string[] } {
  const base = agentBaseOptions(config, ctx.agent);
  const recipients = ctx.recipients?.length ? ctx.recipients : [""];
  const file = config.path(ctx.agent, "user_config");
  if (file === "") return { perRecipient: recipients.map((recipient) => ({ recipient, options: base, sources: {}, matched: [] })), ignored: [] };
  return resolveUserConfig(cache.get(file, ctx.agent), base, {
    sender: ctx.sender ?? "",
    recipients,
    clientAddress: ctx.clientAddr,
    serverAddress: ctx.serverAddr,
  });
}
