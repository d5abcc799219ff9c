/**
 * The owner pages of the upload site: a visitor signs in with a display name
 * (a demo: no password), sees every session signed in with that name, and
 * signs out of the others, or of one.
 */
import type Router from '@koa/router';
import type Koa from 'koa';
import { endSession, type OwnerSessions, sessionOwner, sessionPublicId, setSessionOwner } from '../middleware/index.ts';
import type { SessionSummary } from '../middleware/store.ts';
import { formatDurationShort, formatTime } from '../web/format.ts';
import { PageError } from '../web/page-error.ts';
import { requireSameOrigin } from '../web/same-origin.ts';
import { displayNameOf, readSmallForm, sessionIdOf } from './owner-form.ts';
import type { RenderPage } from './views.ts';

/** Adds the owner pages to the site's router: `POST /name`, `GET /sessions`, `POST /sessions/end-others`, `POST /sessions/end`. */
export function addOwnerRoutes(router: Router, owners: OwnerSessions, renderPage: RenderPage): void {
  // The session keeps its data (the upload) under its new id: signing in regenerates the id only.
  router.post('/name', requireSameOrigin, async (ctx) => {
    const name = displayNameOf(await readSmallForm(ctx));
    await setSessionOwner(ctx, name);
    ctx.status = 303;
    ctx.redirect('/sessions');
  });

  router.get('/sessions', async (ctx) => {
    const owner = sessionOwner(ctx);
    const rows = owner === undefined ? [] : (await owners.listOwnerSessions(owner)).map((session) => rowOf(session, sessionPublicId(ctx)));
    await renderPage(ctx, 'sessions', 'Your sessions', { rows, ended: endedCountOf(ctx) });
  });

  router.post('/sessions/end-others', requireSameOrigin, async (ctx) => {
    const ended = await owners.endOwnerSessions(signedInOwner(ctx), { except: ctx, by: 'user' });
    ctx.status = 303;
    ctx.redirect(`/sessions?ended=${ended}`);
  });

  router.post('/sessions/end', requireSameOrigin, async (ctx) => {
    const owner = signedInOwner(ctx);
    const id = sessionIdOf(await readSmallForm(ctx));
    if (id === sessionPublicId(ctx)) {
      // This device's own session: ended as "Forget my session" ends it, its cookie cleared too.
      endSession(ctx, 'user');
      ctx.status = 303;
      ctx.redirect('/?forgotten=1');
      return;
    }
    if (!(await owners.endOwnerSession(owner, id, { by: 'user' }))) {
      throw new PageError(404, 'No such session', 'None of your sessions has this id: it has ended already, or it is not yours. Nothing was ended.');
    }
    ctx.status = 303;
    ctx.redirect('/sessions?ended=1');
  });
}

/** One row of the "Your sessions" page. */
interface SessionRow {
  id: string;
  thisDevice: boolean;
  createdAt: string;
  createdAtIso: string;
  lastSeenAt: string;
  lastSeenAtIso: string;
  expiresAt: string;
  expiresAtIso: string;
  /** Time left before it expires unless used, at a glance. */
  expiresIn: string;
  /** Undefined when SESSION_TRACK_DEVICE did not keep them. */
  device: { userAgent: string; address: string } | undefined;
}

function rowOf(session: SessionSummary, thisId: string | undefined): SessionRow {
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    id: session.id,
    thisDevice: session.id === thisId,
    createdAt: formatTime(session.createdAt),
    createdAtIso: iso(session.createdAt),
    lastSeenAt: formatTime(session.lastSeenAt),
    lastSeenAtIso: iso(session.lastSeenAt),
    expiresAt: formatTime(session.expiresAt),
    expiresAtIso: iso(session.expiresAt),
    expiresIn: formatDurationShort(session.expiresAt - Date.now()),
    device: session.device && { userAgent: session.device.userAgent, address: session.device.address },
  };
}

/** The owner of the request's session; a visitor who is not signed in has no sessions to end. */
function signedInOwner(ctx: Koa.Context): string {
  const owner = sessionOwner(ctx);
  if (owner === undefined) throw new PageError(403, 'Not signed in', 'Sign in with a display name first: only your own sessions can be ended. Nothing was ended.');
  return owner;
}

/** How many sessions the last action ended, from the redirect that reported it; anything else is nothing to report. */
function endedCountOf(ctx: Koa.Context): number | undefined {
  const value = ctx.query.ended;
  return typeof value === 'string' && /^\d{1,9}$/.test(value) ? Number(value) : undefined;
}
