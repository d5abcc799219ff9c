/**
 * The command line, read into one of the commands (node:util parseArgs,
 * strict): anything unknown or out of range is a UsageError naming it.
 * Nothing here opens a store, so wrong usage costs no connection.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DEFAULT_PAGE_SIZE } from '../admin/list-query.ts';
import { MAX_EVENTS_PAGE } from '../middleware/event-log/event-log.ts';
import { isWellFormedPublicId } from '../middleware/ids.ts';
import { ownerProblem, type ListSort } from '../middleware/store.ts';
import { UsageError } from './errors.ts';

/** What `help` explains: everything, or one command group. */
export type HelpTopic = 'all' | 'sessions' | 'events' | 'migrate' | 'dashboard';

/** One parsed command line. */
export type Command =
  | { name: 'help'; topic: HelpTopic }
  | { name: 'sessions list'; sort: ListSort; limit: number; json: boolean; owner?: string }
  | { name: 'sessions count'; json: boolean }
  | { name: 'sessions show'; id: string; json: boolean }
  | { name: 'sessions end'; id: string; json: boolean }
  | { name: 'sessions end --owner'; owner: string; json: boolean }
  | { name: 'sessions purge-expired'; json: boolean }
  | { name: 'sessions end-all'; json: boolean }
  | { name: 'events'; follow: boolean; limit: number; json: boolean }
  | { name: 'migrate'; dryRun: boolean; json: boolean }
  | { name: 'dashboard' };

/** Most sessions `sessions list` prints; it pages through the store, never reading them all at once. */
export const MAX_LIST_LIMIT = 100_000;

const SESSIONS_HELP = 'sessionkeeper sessions';
const SESSION_SUBCOMMANDS = ['list', 'count', 'show', 'end', 'purge-expired', 'end-all'] as const;
const SORTS: readonly ListSort[] = ['activity', 'expiry'];
const HELP_FLAGS = ['--help', '-h'];
const JSON_OPTION = { json: { type: 'boolean' } } as const;
// `multiple`, so that a second --owner is refused rather than quietly taking the place of the first.
const OWNER_OPTION = { owner: { type: 'string', multiple: true } } as const;

/** Reads the arguments after `sessionkeeper`; throws UsageError for anything it does not know. */
export function parseCommand(argv: readonly string[]): Command {
  const [first, ...rest] = argv;
  if (first === undefined) throw new UsageError('no command given');
  if (first === 'help' || HELP_FLAGS.includes(first)) return { name: 'help', topic: helpTopic(rest[0]) };
  if (first === 'sessions') return parseSessionsCommand(rest);
  if (first === 'events') return parseEventsCommand(rest);
  if (first === 'migrate') return parseMigrateCommand(rest);
  if (first === 'dashboard') return parseOptions('dashboard', rest, {}) ? { name: 'dashboard' } : { name: 'help', topic: 'dashboard' };
  throw new UsageError(first.startsWith('-') ? `unknown option ${first}` : `unknown command ${JSON.stringify(first)}`);
}

function helpTopic(topic: string | undefined): HelpTopic {
  if (topic === undefined) return 'all';
  if (topic === 'sessions' || topic === 'events' || topic === 'migrate' || topic === 'dashboard') return topic;
  throw new UsageError(`no help on ${JSON.stringify(topic)}: try sessions, events, migrate or dashboard`);
}

function parseSessionsCommand(argv: readonly string[]): Command {
  const [sub, ...args] = argv;
  if (sub === undefined) throw new UsageError(`sessions needs a subcommand: ${SESSION_SUBCOMMANDS.join(', ')}`, SESSIONS_HELP);
  if (HELP_FLAGS.includes(sub)) return { name: 'help', topic: 'sessions' };
  const help = { name: 'help', topic: 'sessions' } as const;
  switch (sub) {
    case 'list': {
      const values = parseOptions('sessions list', args, { ...JSON_OPTION, sort: { type: 'string' }, limit: { type: 'string' }, ...OWNER_OPTION })?.values;
      if (!values) return help;
      const command = { name: 'sessions list', sort: sortOf(values.sort), limit: limitOf('sessions list', values.limit, 1, MAX_LIST_LIMIT), json: values.json === true } as const;
      return values.owner === undefined ? command : { ...command, owner: ownerOf('sessions list', values.owner) };
    }
    case 'count':
    case 'purge-expired': {
      const values = parseOptions(`sessions ${sub}`, args, JSON_OPTION)?.values;
      return values ? { name: `sessions ${sub}`, json: values.json === true } : help;
    }
    case 'show': {
      const parsed = parseOptions('sessions show', idsAsPositionals(args), JSON_OPTION, 1);
      return parsed ? { name: 'sessions show', id: publicIdOf(sub, parsed.positionals), json: parsed.values.json === true } : help;
    }
    case 'end': {
      const parsed = parseOptions('sessions end', idsAsPositionals(args), { ...JSON_OPTION, ...OWNER_OPTION }, 1);
      if (!parsed) return help;
      const json = parsed.values.json === true;
      if (parsed.values.owner === undefined) {
        if (parsed.positionals.length === 0) throw new UsageError('sessions end needs a session id (the ID column of sessions list) or --owner O', SESSIONS_HELP);
        return { name: 'sessions end', id: publicIdOf(sub, parsed.positionals), json };
      }
      if (parsed.positionals.length > 0) throw new UsageError('sessions end takes a session id or --owner, not both', SESSIONS_HELP);
      return { name: 'sessions end --owner', owner: ownerOf('sessions end', parsed.values.owner), json };
    }
    case 'end-all': {
      const values = parseOptions('sessions end-all', args, { ...JSON_OPTION, yes: { type: 'boolean' } })?.values;
      if (!values) return help;
      if (values.yes !== true) throw new UsageError('sessions end-all ends every session, live or expired: add --yes to confirm', SESSIONS_HELP);
      return { name: 'sessions end-all', json: values.json === true };
    }
    default:
      throw new UsageError(`unknown sessions subcommand ${JSON.stringify(sub)}: expected one of ${SESSION_SUBCOMMANDS.join(', ')}`, SESSIONS_HELP);
  }
}

function parseEventsCommand(args: readonly string[]): Command {
  const values = parseOptions('events', args, { ...JSON_OPTION, follow: { type: 'boolean' }, limit: { type: 'string' } })?.values;
  if (!values) return { name: 'help', topic: 'events' };
  return { name: 'events', follow: values.follow === true, limit: limitOf('events', values.limit, 0, MAX_EVENTS_PAGE), json: values.json === true };
}

function parseMigrateCommand(args: readonly string[]): Command {
  const values = parseOptions('migrate', args, { ...JSON_OPTION, 'dry-run': { type: 'boolean' } })?.values;
  if (!values) return { name: 'help', topic: 'migrate' };
  return { name: 'migrate', dryRun: values['dry-run'] === true, json: values.json === true };
}

/** The value of one option: a string, a flag, or every value of one that may be repeated (`--owner`). */
type OptionValue = string | boolean | string[] | undefined;

/** Option values by name, and the positional arguments. */
interface Parsed {
  values: Record<string, OptionValue>;
  positionals: string[];
}

/**
 * The options of one command, strictly: an unknown option, a missing value or more positional arguments
 * than `positionals` throw UsageError. Returns undefined when `--help` was asked for.
 */
function parseOptions(command: string, args: readonly string[], options: NonNullable<ParseArgsConfig['options']>, positionals = 0): Parsed | undefined {
  let parsed: Parsed;
  try {
    parsed = parseArgs({ args: [...args], options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true }) as Parsed;
  } catch (err) {
    throw new UsageError(`${command}: ${describeParseError(err)}`, helpCommandOf(command));
  }
  if (parsed.values.help) return undefined;
  const extra = parsed.positionals[positionals];
  if (extra !== undefined) throw new UsageError(`${command}: unexpected argument ${JSON.stringify(extra)}`, helpCommandOf(command));
  return parsed;
}

/** parseArgs's messages, shortened to what the operator typed wrong. */
function describeParseError(err: unknown): string {
  const { code, message } = err as { code?: string; message?: string };
  const option = /'(-[^' ]+)/.exec(message ?? '')?.[1];
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option) return `unknown option ${option}`;
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option) {
    return /does not take an argument/.test(message ?? '') ? `${option} takes no value` : `${option} needs a value`;
  }
  return String(message ?? err).split('\n')[0]!;
}

/** A public id may begin with `-`: such a word is the id, not an option, so it is moved after `--` for parseArgs. */
function idsAsPositionals(args: readonly string[]): string[] {
  const end = args.indexOf('--');
  const before = end === -1 ? [...args] : args.slice(0, end);
  const after = end === -1 ? [] : args.slice(end + 1);
  const isDashedId = (arg: string) => arg.startsWith('-') && isWellFormedPublicId(arg);
  return [...before.filter((arg) => !isDashedId(arg)), '--', ...before.filter(isDashedId), ...after];
}

function publicIdOf(sub: string, positionals: string[]): string {
  const [id] = positionals;
  if (id === undefined) throw new UsageError(`sessions ${sub} needs a session id (the ID column of sessions list)`, SESSIONS_HELP);
  const shown = JSON.stringify(id.slice(0, 60));
  if (isWellFormedPublicId(id)) return id;
  throw new UsageError(`sessions ${sub}: ${shown} is not a session id: ids are the 43-character public ids sessions list shows`, SESSIONS_HELP);
}

/** The value of `--owner` when it names one owner; a repeated, empty, too long or malformed one is a UsageError saying why. */
function ownerOf(command: string, values: OptionValue): string {
  const [owner, ...more] = values as string[];
  if (more.length > 0) throw new UsageError(`${command}: --owner was given more than once; give it once`, SESSIONS_HELP);
  const problem = ownerProblem(owner);
  if (problem === undefined) return owner!;
  throw new UsageError(`${command}: --owner is not an owner: ${problem}`, SESSIONS_HELP);
}

function sortOf(value: OptionValue): ListSort {
  if (value === undefined) return 'activity';
  if ((SORTS as unknown[]).includes(value)) return value as ListSort;
  throw new UsageError(`sessions list: --sort must be one of ${SORTS.join(', ')}, not ${JSON.stringify(value)}`, SESSIONS_HELP);
}

function limitOf(command: string, value: OptionValue, min: number, max: number): number {
  if (value === undefined) return Math.min(DEFAULT_PAGE_SIZE, max);
  const limit = typeof value === 'string' && /^\d{1,7}$/.test(value) ? Number(value) : Number.NaN;
  if (limit >= min && limit <= max) return limit;
  throw new UsageError(`${command}: --limit must be a whole number from ${min} to ${max}, not ${JSON.stringify(value)}`, helpCommandOf(command));
}

/** `sessionkeeper sessions` for `sessions list`: the help that explains the command. */
function helpCommandOf(command: string): string {
  return `sessionkeeper ${command.split(' ')[0]}`;
}
