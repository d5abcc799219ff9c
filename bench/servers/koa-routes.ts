/**
 * The three scenarios as Koa routes over `ctx.session`, shared by every Koa
 * case that has sessions: `GET /read` loads the session, `POST /write` rewrites
 * its ~1 KB, `POST /new` creates one. A request that finds no session where it
 * expects one gets 409, which the orchestrator counts as an error.
 */
import type Koa from 'koa';
import { sessionPayload } from './harness.ts';

export function sessionRoutes(): Koa.Middleware {
  return (ctx) => {
    const route = `${ctx.method} ${ctx.path}`;
    if (route === 'POST /new') {
      Object.assign(ctx.session!, sessionPayload(0));
      ctx.body = { created: true };
      return;
    }
    const session = ctx.session;
    if (!session?.user) {
      ctx.status = route === 'GET /read' || route === 'POST /write' ? 409 : 404;
      return;
    }
    if (route === 'GET /read') {
      ctx.body = { visits: session.visits };
    } else if (route === 'POST /write') {
      const visits = Number(session.visits) + 1;
      Object.assign(session, sessionPayload(visits));
      ctx.body = { visits };
    } else {
      ctx.status = 404;
    }
  };
}
