/**
 * Configuration as an agent program sees it: the same file as the daemon (--config FILE,
 * $BULWARK_CONFIG, /etc/bulwark/bulwark.cfg for root, ./.bulwark/bulwark.cfg otherwise), the
 * daemon socket to ask, and the policy options of the agent's section ([global] values unless
 * the section overrides them). An agent never creates the file: only the daemon does.
 */
import fs from "node:fs";
import { formatConfigError } from "../../host/config/ini.js";
import { type Config, loadConfig } from "../../host/config/load.js";
import type { AgentSection } from "../../host/config/schema.js";
import { resolveConfigFile } from "../../host/daemon/config-file.js";
import type { PolicyOptions } from "../../host/policy/actions.js";

export interface AgentConfig {
  config: Config;
  socketPath: string;
  policy: PolicyOptions;
}

/** The agent's configuration, or a message saying why it cannot run. */
export function loadAgentConfig(given: string | undefined, agent: AgentSection): AgentConfig | { error: string } {
  const file = resolveConfigFile(given);
  if (!fs.existsSync(file)) return { error: `no configuration file ${file} (start the daemon once, or pass --config FILE)` };
  const r = loadConfig(file);
  if (r.globalErrors.length) return { error: r.globalErrors.map(formatConfigError).join("\n") };
  const disabled = r.disabledAgents.find((d) => d.agent === agent);
  if (disabled) return { error: disabled.errors.map(formatConfigError).join("\n") };
  if (!r.config.bool(agent, "agent_enabled")) return { error: `the ${agent} agent is disabled ([${agent}] agent_enabled = no in ${file})` };
  const s = r.config.section(agent);
  return {
    config: r.config,
    socketPath: r.config.path("global", "daemon_socket_path"),
    policy: {
      action_av: String(s.action_av),
      action_av_infected: String(s.action_av_infected),
      action_av_notscanned: String(s.action_av_notscanned),
      action_av_deleted: String(s.action_av_deleted),
      av_clean_mode: String(s.av_clean_mode),
    },
  };
}

/** `--config FILE` / `--config=FILE` from argv; the remaining arguments. */
export function splitConfigArg(argv: string[]): { config?: string; rest: string[]; error?: string } {
  const rest: string[] = [];
  let config: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") {
      rest.push(...argv.slice(i + 1));
      break;
    }
    if (a === "--config") {
      if (i + 1 >= argv.length) return { rest, error: "--config needs a file name" };
      config = argv[++i];
    } else if (a.startsWith("--config=")) config = a.slice("--config=".length);
    else rest.push(a);
  }
  return { config, rest };
}
