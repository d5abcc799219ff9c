/**
 * The ceiling: a bare Koa handler with no session at all, answering the three
 * scenario routes with bodies of the same shape as the session cases.
 */
import Koa from 'koa';
import { serve } from './harness.ts';

const app = new Koa();
app.use((ctx) => {
  const route = `${ctx.method} ${ctx.path}`;
  if (route === 'GET /read') ctx.body = { visits: 1 };
  else if (route === 'POST /write') ctx.body = { visits: 2 };
  else if (route === 'POST /new') ctx.body = { created: true };
  else ctx.status = 404;
});
await serve(app.callback());
