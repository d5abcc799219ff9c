#!/usr/bin/env node
/**
 * `sessionkeeper`, the operator CLI: reads the command line, runs the
 * command on the store the environment configures, and exits 0 (done),
 * 1 (failed) or 2 (wrong usage or setting). stdout carries only the
 * command's output; errors are one line on stderr, never a stack.
 */
import { ConfigError } from '../middleware/settings.ts';
import { StoreUnavailableError } from '../middleware/store.ts';
import { parseCommand } from './args.ts';
import { CommandFailed, EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError } from './errors.ts';
import { usage } from './usage.ts';

async function run(argv: readonly string[]): Promise<void> {
  const command = parseCommand(argv);
  // The commands' modules (the store drivers, Koa) are loaded only once the command line is known to be right.
  if (command.name === 'help') {
    process.stdout.write(usage(command.topic));
  } else if (command.name === 'dashboard') {
    const { serveDashboard } = await import('./dashboard-command.ts');
    await serveDashboard(process.env, process.stdout);
  } else {
    const { runStoreCommand } = await import('./run-command.ts');
    await runStoreCommand(command, process.env, { stdout: process.stdout, stderr: process.stderr });
  }
}

/** The one line an error is reported as, and the exit status it means. */
function reportOf(err: unknown): { line: string; status: number } {
  if (err instanceof UsageError) return { line: `${err.message}; see ${err.helpCommand} --help`, status: EXIT_USAGE };
  if (err instanceof ConfigError) return { line: err.message, status: EXIT_USAGE };
  if (err instanceof CommandFailed) return { line: err.message, status: EXIT_FAILED };
  if (err instanceof StoreUnavailableError) return { line: `${err.message.replace(/\.$/, '')}${causeOf(err)}`, status: EXIT_FAILED };
  return { line: err instanceof Error ? err.message : String(err), status: EXIT_FAILED };
}

/** The driver's reason (refused, timed out, authentication), which says more than "not answering"; never a location with a password. */
function causeOf(err: Error): string {
  const { message, code } = (err.cause ?? {}) as { message?: string; code?: string };
  const reason = message || code;
  return reason ? `: ${reason}` : '';
}

/** Whatever reads the output may stop early (`| head`): that is not a failure. */
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(EXIT_OK);
  throw err;
});

let status = EXIT_OK;
try {
  await run(process.argv.slice(2));
} catch (err) {
  const report = reportOf(err);
  process.stderr.write(`sessionkeeper: ${report.line.split('\n')[0]}\n`);
  status = report.status;
}
// Exit even if a client still reconnects in the background; stdout is written first.
process.stdout.write('', () => process.exit(status));
