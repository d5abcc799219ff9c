/**
 * The operator's side of the dashboard over HTTP: signing in through the
 * login form, HTTP Basic credentials, the CSRF token of a page and the
 * cookies an answer set.
 */
import assert from 'node:assert/strict';
import type request from 'supertest';
import { ADMIN_PASSWORD, ADMIN_USER } from './test-settings.ts';

/** The value of the hidden CSRF field in a page (the first form's). */
export function csrfTokenIn(html: string): string {
  const token = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
  assert.ok(token, 'the page has a CSRF token field');
  return token;
}

/**
 * Signs an agent in through the login form of the dashboard at `path` and
 * returns the CSRF token of its admin session (from the sessions page).
 */
export async function signIn(agent: request.Agent, { password = ADMIN_PASSWORD, path = '/admin' } = {}): Promise<string> {
  const loginPage = await agent.get(`${path}/login`).expect(200);
  await agent
    .post(`${path}/login`)
    .type('form')
    .send({ csrf: csrfTokenIn(loginPage.text), user: ADMIN_USER, password })
    .expect(303)
    .expect('Location', path);
  const dashboard = await agent.get(path).expect(200);
  return csrfTokenIn(dashboard.text);
}

/** An `Authorization: Basic` header value; the test operator's by default. */
export function basicAuth(user = ADMIN_USER, password = ADMIN_PASSWORD): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** Every cookie a response set, as its Set-Cookie lines. */
export function cookiesSet(res: request.Response): string[] {
  return ([] as string[]).concat(res.headers['set-cookie'] ?? []);
}
