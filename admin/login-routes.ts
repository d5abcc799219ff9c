/** Signing in and out of the HTML dashboard. */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { assertSameOrigin } from '../server/same-origin.ts';
import type { Render } from '../server/views.ts';
import { adminSessionOf, type AdminAuth, seeOther } from './auth.ts';
import { assertCsrfToken, CSRF_FIELD, type LoginTokens } from './csrf.ts';
import { formField, parseForm } from './form-body.ts';

/** Adds the login page, the sign-in form's target and logout. */
export function addLoginRoutes(router: Router, auth: AdminAuth, loginTokens: LoginTokens, render: Render): void {
  const showLogin = (ctx: Context, locals: { error?: string; notice?: string; user?: string }, status = 200) =>
    render(ctx, 'login', { title: 'Sign in', loginToken: loginTokens.issue(ctx), csrfField: CSRF_FIELD, user: '', ...locals }, status);

  router.get('/admin/login', async (ctx) => {
    if (await auth.sessions.read(ctx)) return seeOther(ctx, '/admin');
    await showLogin(ctx, ctx.query.signedOut === '1' ? { notice: 'You are signed out.' } : {});
  });

  router.post('/admin/login', parseForm, async (ctx) => {
    assertSameOrigin(ctx);
    await auth.assertNotLocked(ctx);
    loginTokens.assertValid(ctx, formField(ctx, CSRF_FIELD));
    const user = formField(ctx, 'user') ?? '';
    if (!(await auth.verify(ctx, { user, password: formField(ctx, 'password') ?? '' }))) {
      return showLogin(ctx, { error: 'Wrong user name or password.', user }, 401);
    }
    loginTokens.clear(ctx);
    await auth.signIn(ctx);
    seeOther(ctx, '/admin');
  });

  router.post('/admin/logout', auth.requirePage, parseForm, async (ctx) => {
    const session = adminSessionOf(ctx)!;
    assertSameOrigin(ctx);
    assertCsrfToken(ctx, formField(ctx, CSRF_FIELD), session.csrfToken);
    await auth.signOut(ctx, session);
    seeOther(ctx, '/admin/login?signedOut=1');
  });
}
