/**
 * The small forms of the owner pages: the display name a visitor signs in
 * with, and the public id of a session to end. Each is read whole within a
 * few KiB, through the upload's body reader, and checked before anything
 * changes: a refused form leaves the visitor's session as it was.
 */
import { isStrictlyEncoded, strictUtf8 } from '../web/strict-encoding.ts';
import { closeUnreadBody } from '../web/close-unread-body.ts';
import type Koa from 'koa';
import { isWellFormedPublicId } from '../middleware/ids.ts';
import { ownerProblem } from '../middleware/store.ts';
import { PageError } from '../web/page-error.ts';
import { readRequestBody } from './request-body.ts';

/** The form field of the display name. */
export const NAME_FIELD = 'name';
/** The form field of a session's public id. */
export const SESSION_ID_FIELD = 'id';
/** Longest display name, in UTF-16 code units as the field's `maxlength` counts them; the store allows more. */
export const MAX_DISPLAY_NAME_LENGTH = 100;
/** A name at its longest, percent-encoded, is under 1 KiB: this leaves room for a clear "too long" page. */
const FORM_MAX_BYTES = 16 * 1024;

/**
 * The fields of a urlencoded form (what a page's `<form method="post">` sends), or none when the request
 * has no body.
 *
 * @throws PageError 415 for a body of another Content-Type; BodyRefusal 413 over 16 KiB, 400 for a body cut short.
 */
export async function readSmallForm(ctx: Koa.Context): Promise<URLSearchParams> {
  try {
    // A post without a Content-Type (a bare POST, an empty body) is read as a form, and lacks the fields.
    if (ctx.request.type !== '' && ctx.is('urlencoded') === false) {
      throw new PageError(415, 'Unsupported form', 'Send this form as the page does (application/x-www-form-urlencoded); nothing was changed.');
    }
    const body = await readRequestBody(ctx.req, FORM_MAX_BYTES);
    // URLSearchParams would read a malformed escape or raw bytes that are not UTF-8 as U+FFFD: another name.
    const text = strictUtf8(body);
    if (text === undefined || !isStrictlyEncoded(text)) {
      throw new PageError(400, 'Form not readable', 'The form was not valid UTF-8 percent-encoding; nothing was changed.');
    }
    return new URLSearchParams(text);
  } catch (err) {
    // The rest of a refused body stays unread: close the connection rather than receive it.
    closeUnreadBody(ctx);
    throw err;
  }
}

/**
 * The display name of a sign-in form, trimmed.
 *
 * @throws PageError 400 when it is missing, sent twice, empty or blank, longer than MAX_DISPLAY_NAME_LENGTH,
 * holds a control character, or cannot name a session's owner.
 */
export function displayNameOf(form: URLSearchParams): string {
  const name = singleField(form, NAME_FIELD, 'No name given', 'Type a display name, then send the form again.').trim();
  if (!name) throw refused('No name given', 'The name is empty: type a display name, then send the form again.');
  if (name.length > MAX_DISPLAY_NAME_LENGTH) {
    throw refused('Name too long', `A display name has at most ${MAX_DISPLAY_NAME_LENGTH} characters; this one has ${name.length}.`);
  }
  if (/\p{Cc}/u.test(name)) {
    throw refused('Name not allowed', 'A display name cannot hold control characters (line breaks, tabs, NUL and the like).');
  }
  // Format characters (zero-width spaces, bidi overrides) make a name look like another, or like nothing.
  if (/\p{Cf}/u.test(name) || !/[\p{L}\p{N}\p{P}\p{S}]/u.test(name)) {
    throw refused('Name not allowed', 'A display name needs visible characters, and no invisible or direction-changing ones.');
  }
  if (ownerProblem(name)) throw refused('Name not allowed', 'This name cannot name a session; choose another one.');
  return name;
}

/**
 * The public id of an "End" form.
 *
 * @throws PageError 400 when it is missing, sent twice, or not shaped like a public id.
 */
export function sessionIdOf(form: URLSearchParams): string {
  const id = singleField(form, SESSION_ID_FIELD, 'No session chosen', 'Choose a session to end on the "Your sessions" page.');
  if (!isWellFormedPublicId(id)) throw new PageError(400, 'Unknown session', 'This is not the id of a session; nothing was ended.');
  return id;
}

/** The one value of `field`; a form without it, or with it twice, is refused. */
function singleField(form: URLSearchParams, field: string, missingTitle: string, missingMessage: string): string {
  const values = form.getAll(field);
  if (values.length === 0) throw new PageError(400, missingTitle, `The form has no "${field}" field. ${missingMessage}`);
  if (values.length > 1) throw new PageError(400, 'Unexpected form', `The form carries the "${field}" field more than once; nothing was changed.`);
  return values[0]!;
}

/** A sign-in refused: the session stays as it was, signed in or not. */
function refused(title: string, reason: string): PageError {
  return new PageError(400, title, `${reason} Nothing was changed: your session is as it was.`);
}
