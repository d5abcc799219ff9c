/**
 * How a command ends, as its exit status says: 0 done, 1 failed, 2 wrong
 * usage (an unknown command, option or value, or a setting not allowed).
 */

/** Exit statuses. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** The command line asks for something that does not exist or is not allowed: exit status 2. */
export class UsageError extends Error {
  /**
   * @param message what is wrong, in one line.
   * @param helpCommand the command whose `--help` explains the usage (`sessionkeeper sessions`, say).
   */
  constructor(message: string, readonly helpCommand = 'sessionkeeper') {
    super(message);
    this.name = 'UsageError';
  }
}

/** The command ran and could not do what was asked (no such session): exit status 1. */
export class CommandFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandFailed';
  }
}
