/**
 * No upload leaves a temporary file behind, whatever happens to it. This test
 * process points TMPDIR at a fresh directory before anything loads formidable
 * (which takes its default upload directory from os.tmpdir() when loaded), so
 * every temporary file the site could write lands where the test can see it.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import type { TestApp } from '../helpers/test-app.ts';

const watchedDir = await mkdtemp(join(tmpdir(), 'sessionkeeper-uploads-'));
process.env.TMPDIR = watchedDir;
// Loaded only now, so that formidable (through the app) sees the new TMPDIR.
const { createTestApp } = await import('../helpers/test-app.ts');
const { cookieHeaderOf, multipartBody, textFileForm } = await import('../helpers/upload-forms.ts');

/** Entries in the watched directory other than the test's own store namespace. */
async function strayFiles(): Promise<string[]> {
  return (await readdir(watchedDir)).filter((name) => !name.startsWith('sessionkeeper-test-'));
}

describe('temporary files', () => {
  let site: TestApp;
  before(async () => {
    site = await createTestApp('file', { server: { uploadMaxBytes: 1000 } });
  });
  after(async () => {
    await site.close();
    await rm(watchedDir, { recursive: true, force: true });
  });

  test('formidable would write its temporary files into the watched directory', async () => {
    // The premise of this file: without it the checks below would pass vacuously.
    const { defaultOptions } = await import('formidable');
    assert.equal(defaultOptions.uploadDir, watchedDir);
  });

  test('none are left after good, bad, oversized and aborted uploads', async () => {
    const forms = [
      textFileForm('good\n'),
      textFileForm(Buffer.alloc(1000, 'a')),
      textFileForm(Buffer.alloc(1001, 'a')),
      textFileForm(Buffer.alloc(50_000, 'a')),
      textFileForm(''),
      textFileForm(Buffer.from([0xff, 0x00])),
      multipartBody([{ name: 'other', filename: 'x.txt', data: 'x\n' }]),
      multipartBody([{ name: 'textfile', filename: 'a.txt', data: 'a\n' }, { name: 'textfile', filename: 'b.txt', data: 'b\n' }]),
    ];
    const statuses: number[] = [];
    let cookie: string | undefined;
    for (const form of forms) {
      const req = request(site.app.callback()).post('/').set('Content-Type', form.contentType);
      if (cookie) req.set('Cookie', cookie);
      const res = await req.send(form.body);
      cookie ??= cookieHeaderOf(res);
      statuses.push(res.status);
    }
    assert.deepEqual(statuses, [303, 303, 413, 413, 400, 415, 400, 400]);

    // A visitor who goes away halfway through an upload.
    const server = site.app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { port } = server.address() as AddressInfo;
      const form = textFileForm(Buffer.alloc(900, 'a'));
      const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/', headers: { 'Content-Type': form.contentType, 'Content-Length': form.body.length } });
      req.on('error', () => {});
      req.write(form.body.subarray(0, 400));
      await new Promise((resolve) => setTimeout(resolve, 50));
      req.destroy();
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      server.close();
      await once(server, 'close');
    }
    assert.deepEqual(await strayFiles(), []);
  });
});
