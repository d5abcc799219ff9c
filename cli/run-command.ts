/**
 * The commands that work on the store and end by themselves (`sessions …`,
 * `events`): open the sessions, run, and close them again, whatever happened,
 * so that the events a command recorded reach the shared log.
 */
import type { Command } from './args.ts';
import { runEventsCommand } from './events-command.ts';
import { assertSwitchConfigured, runMigrateCommand } from './migrate-command.ts';
import { closeWithin, loadCliConfig, openCliSessions } from './open-sessions.ts';
import type { Streams } from './output.ts';
import { runSessionsCommand } from './sessions-commands.ts';

export type StoreCommand = Exclude<Command, { name: 'help' | 'dashboard' }>;

export async function runStoreCommand(command: StoreCommand, env: NodeJS.ProcessEnv, streams: Streams): Promise<void> {
  const config = loadCliConfig(env, { signsCookies: false });
  if (command.name === 'migrate') assertSwitchConfigured(config);
  const sessions = await openCliSessions(config);
  try {
    if (command.name === 'events') await runEventsCommand(sessions, command, streams);
    else if (command.name === 'migrate') await runMigrateCommand(sessions, command, streams);
    else await runSessionsCommand(sessions, command, streams);
  } finally {
    await closeWithin(sessions);
  }
}
