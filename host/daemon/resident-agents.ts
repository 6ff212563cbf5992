/**
 * Which agent sections are resident processes that the daemon starts and supervises, and the
 * compiled entry file each one runs (started as `node ENTRY --config FILE`). Agents not listed
 * here are not processes of the daemon: bulwark-pipe and bulwark-cli are run by the MTA or by
 * amavisd-new per message and only talk to the daemon socket.
 */
import type { AgentSection } from "../config/schema.js";

export const RESIDENT_AGENTS: Partial<Record<AgentSection, string>> = {
  clamd: "dist/agents/clamd/main.js",
  smfi: "dist/agents/milter/main.js",
  smtp: "dist/agents/smtp/main.js",
  spamd: "dist/agents/spamd/main.js",
};

export function isResidentAgent(agent: AgentSection): boolean {
  return RESIDENT_AGENTS[agent] !== undefined;
}
