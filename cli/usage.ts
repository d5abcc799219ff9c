/** What `sessionkeeper --help` and each command's `--help` print. */
import type { HelpTopic } from './args.ts';

const SESSIONS = `Sessions (the live ones, as the dashboard lists them; ids are the public ids it shows):
  sessionkeeper sessions list [--sort activity|expiry] [--limit N] [--owner O] [--json]
      most recent activity first, or soonest to expire first; at most N (default 50, up to 100000);
      with --owner, only the sessions of owner O (the app's setSessionOwner)
  sessionkeeper sessions count [--json]          how many sessions are live (during a backend switch,
                                                 in the new store; the old store's count on stderr)
  sessionkeeper sessions show <id> [--json]      times, size and key names of one session (never its values)
  sessionkeeper sessions end <id> [--json]       ends one session (logged as session.destroyed by admin)
  sessionkeeper sessions end --owner O [--json]  ends every live session of owner O: signed out on every
                                                 device (each logged as session.destroyed by admin)
  sessionkeeper sessions purge-expired [--json]  removes every expired session now
  sessionkeeper sessions end-all --yes [--json]  ends every session, live or expired`;

const EVENTS = `Events (the shared lifecycle event log every process appends to):
  sessionkeeper events [--limit N] [--follow] [--json]
      the latest N events, oldest first (default 50, up to 1000); with --follow, then every new
      event as it is recorded, until Ctrl-C`;

const MIGRATE = `Switching backends (README: "Switching backends"):
  sessionkeeper migrate [--dry-run] [--json]
      moves every live session from SESSION_STORE_PREVIOUS to SESSION_STORE, with a progress line
      and a summary (moved, already there, expired or ended, failed); safe while the application
      serves requests, and safe to run again (an interrupted run is finished by the next one).
      --dry-run reads both stores and says what a run would do, writing nothing. Exit status 1
      when some sessions could not be moved (run it again once both stores answer)`;

const DASHBOARD = `Dashboard:
  sessionkeeper dashboard
      serves the operator dashboard on its own over the configured store, and sweeps expired
      sessions while it runs. Reads PORT (3000), HOST (127.0.0.1), ADMIN_PATH (/admin),
      ADMIN_USER (admin), ADMIN_PASSWORD (required), TRUST_PROXY (false) and SESSION_KEYS
      (signs its sign-in cookies; required when NODE_ENV=production)`;

const COMMON = `Settings: the library's environment variables (SESSION_STORE, SESSION_FILE_DIR, REDIS_URL,
SESSION_REDIS_PREFIX, DATABASE_URL, SESSION_PG_TABLE, SESSION_STORE_PREVIOUS, PREVIOUS_..., ...),
as the application reads them.
Owners: any text up to 512 characters; one that starts with - is given as --owner=-O.
Output: aligned columns, or one JSON object per line with --json. Log lines go to stderr,
at LOG_LEVEL (default warn for the CLI).
Exit status: 0 done, 1 failed (store not answering, no such session), 2 wrong usage or setting.`;

/** The help text of a topic, ending with a newline. */
export function usage(topic: HelpTopic): string {
  const sections = { sessions: [SESSIONS], events: [EVENTS], migrate: [MIGRATE], dashboard: [DASHBOARD], all: [SESSIONS, EVENTS, MIGRATE, DASHBOARD] }[topic];
  return `Usage: sessionkeeper <command> [options]\n\n${[...sections, COMMON].join('\n\n')}\n`;
}
