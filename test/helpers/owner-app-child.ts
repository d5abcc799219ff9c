/**
 * Child process of `startOwnerProcess`: one or more small Koa apps whose
 * visitors sign in as owners, each a sessionkeeper of its own (from the
 * library's entry point) on the settings `OWNER_APPS` gives it (JSON: app
 * name → environment variables, read as the library reads its environment),
 * each listening on a free port of 127.0.0.1. Routes as in `session-app.ts`
 * (`POST /owner`, `GET /whoami`, `POST /write`, `POST /forget`,
 * `POST /end-others`), plus `POST /end-owner?owner=…` (an operator's script
 * ending every session of an owner) and `GET /slow` (loads its session, parks
 * until released, then writes the session: a request in flight; many may park
 * at once). Every route but the endings answers a `SessionView`. Every log
 * line is JSON on stdout, tagged with its app's name (`ownerApp`); over IPC
 * the parent hears of each parked request and releases an app's parked ones.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { optionsFromEnv } from '../../middleware/config.ts';
import { createSessionkeeper, endSession, sessionOwner, sessionPublicId, setSessionOwner } from '../../middleware/index.ts';
import { createLogger } from '../../middleware/logger.ts';

/** The request's session as the app saw it. */
export interface SessionView {
  /** Public id; null when the request has no stored session (anonymous). */
  id: string | null;
  owner: string | null;
  data: Record<string, unknown>;
}
/** What the parent tells the child: let the parked requests of this app go on. */
export interface OwnerChildCommand {
  release: string;
}
/** What the child tells the parent: a request of this app parked on `GET /slow` with this session. */
export interface OwnerChildReport {
  app: string;
  parked: string | null;
}

/** A parked request that nobody releases ends on its own: a failed test never leaves one hanging. */
const PARK_LIMIT_MS = 20_000;

const settings = JSON.parse(process.env.OWNER_APPS ?? '{}') as Record<string, Record<string, string>>;
const logger = createLogger({ level: 'info', format: 'json' });
const parked = new Map<string, (() => void)[]>();
const releaseApp = (name: string) => {
  const waiting = parked.get(name) ?? [];
  parked.set(name, []);
  for (const resume of waiting) resume();
};

async function startApp(name: string, env: Record<string, string>) {
  const app = new Koa();
  const sessions = await createSessionkeeper(app, optionsFromEnv(env), { logger: logger.child({ ownerApp: name }) });
  const view = (ctx: Koa.Context): SessionView => ({ id: sessionPublicId(ctx) ?? null, owner: sessionOwner(ctx) ?? null, data: ctx.session?.toJSON() ?? {} });
  app.use(sessions.middleware);
  app.use(async (ctx) => {
    switch (`${ctx.method} ${ctx.path}`) {
      case 'POST /owner':
        await setSessionOwner(ctx, ctx.query.owner as string);
        ctx.body = view(ctx);
        return;
      case 'GET /whoami':
        ctx.body = view(ctx);
        return;
      case 'POST /write':
        for (const [key, value] of Object.entries(ctx.query)) ctx.session![key] = value;
        ctx.body = view(ctx);
        return;
      case 'POST /forget':
        endSession(ctx, 'user');
        ctx.status = 204;
        return;
      case 'POST /end-others':
        ctx.body = { ended: await sessions.endOwnerSessions(sessionOwner(ctx)!, { except: ctx, by: 'user' }) };
        return;
      case 'POST /end-owner':
        ctx.body = { ended: await sessions.endOwnerSessions(ctx.query.owner as string, { by: 'admin' }) };
        return;
      case 'GET /slow': {
        const before = view(ctx);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, PARK_LIMIT_MS);
          const resume = () => {
            clearTimeout(timer);
            resolve();
          };
          parked.set(name, [...(parked.get(name) ?? []), resume]);
          process.send?.({ app: name, parked: before.id } satisfies OwnerChildReport);
        });
        ctx.session!.slow = ctx.query.tag ?? 'late';
        ctx.body = before;
        return;
      }
      default:
        ctx.status = 404;
    }
  });
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  // Written whatever the log level: the parent waits for one such line per app.
  process.stdout.write(`${JSON.stringify({ msg: 'owner app listening', ownerApp: name, port: (server.address() as AddressInfo).port })}\n`);
  return { server, sessions };
}

const running = await Promise.all(Object.entries(settings).map(([name, env]) => startApp(name, env)));
process.on('message', (command: OwnerChildCommand) => releaseApp(command.release));

// The parent ends the child with SIGTERM; an orphan ends with its parent.
const stop = async () => {
  for (const name of parked.keys()) releaseApp(name);
  for (const { server } of running) {
    server.close();
    server.closeAllConnections();
  }
  await Promise.all(running.map(({ sessions }) => sessions.close()));
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('disconnect', stop);
