/** Signing in and out of the HTML dashboard. */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { assertSameOrigin } from '../web/same-origin.ts';
import type { Render } from '../web/render.ts';
import { adminSessionOf, type AdminAuth, seeOther } from './auth.ts';
import { assertCsrfToken, CSRF_FIELD, type LoginTokens } from './csrf.ts';
import { formField, parseForm } from './form-body.ts';
import type { AdminPaths } from './paths.ts';

/** Adds the login page, the sign-in form's target and logout. */
export function addLoginRoutes(router: Router, paths: AdminPaths, auth: AdminAuth, loginTokens: LoginTokens, render: Render): void {
  const showLogin = (ctx: Context, locals: { error?: string; notice?: string; user?: string }, status = 200) =>
    render(ctx, 'login', { title: 'Sign in', loginToken: loginTokens.issue(ctx), csrfField: CSRF_FIELD, user: '', ...locals }, status);

  router.get(paths.at('/login'), async (ctx) => {
    if (await auth.sessions.read(ctx)) return seeOther(ctx, paths.base);
    await showLogin(ctx, ctx.query.signedOut === '1' ? { notice: 'You are signed out.' } : {});
  });

  router.post(paths.at('/login'), parseForm, async (ctx) => {
    assertSameOrigin(ctx);
    await auth.assertNotLocked(ctx);
    loginTokens.assertValid(ctx, formField(ctx, CSRF_FIELD));
    const user = formField(ctx, 'user') ?? '';
    if (!(await auth.verify(ctx, { user, password: formField(ctx, 'password') ?? '' }))) {
      return showLogin(ctx, { error: 'Wrong user name or password.', user }, 401);
    }
    loginTokens.clear(ctx);
    await auth.signIn(ctx);
    seeOther(ctx, paths.base);
  });

  router.post(paths.at('/logout'), auth.requirePage, parseForm, async (ctx) => {
    const session = adminSessionOf(ctx)!;
    assertSameOrigin(ctx);
    assertCsrfToken(ctx, formField(ctx, CSRF_FIELD), session.csrfToken);
    await auth.signOut(ctx, session);
    seeOther(ctx, `${paths.at('/login')}?signedOut=1`);
  });
}
