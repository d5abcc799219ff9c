/**
 * The three scenarios as Express routes over `req.session`, the same as
 * koa-routes.ts: read loads the session, write rewrites its ~1 KB, new
 * creates one; 409 where a session was expected and not found.
 */
import { sessionPayload } from './harness.ts';

/** Adds the routes to an Express app (untyped: Express is a bench-only peer). */
export function addSessionRoutes(app: any): void {
  app.post('/new', (req: any, res: any) => {
    Object.assign(req.session, sessionPayload(0));
    res.json({ created: true });
  });
  app.get('/read', (req: any, res: any) => {
    if (!req.session.user) return res.status(409).end();
    res.json({ visits: req.session.visits });
  });
  app.post('/write', (req: any, res: any) => {
    if (!req.session.user) return res.status(409).end();
    const visits = Number(req.session.visits) + 1;
    Object.assign(req.session, sessionPayload(visits));
    res.json({ visits });
  });
}

/** express-session as its README recommends: no resave, no empty sessions, a 30-minute cookie. */
export function expressSessionOptions(store: unknown, ttlMs: number, secret: string): Record<string, unknown> {
  return { store, secret, resave: false, saveUninitialized: false, cookie: { maxAge: ttlMs, httpOnly: true, sameSite: 'lax' } };
}
