import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consentCallbackScript, uiRouter } from '../../control-plane/ui/index.ts';

describe('uiRouter', () => {
  let base = '';
  let server: ReturnType<express.Express['listen']>;

  beforeAll(async () => {
    const app = express();
    app.get('/api/v1/organizations', (_req, res) => void res.json([]));
    app.use(uiRouter({ bundle: async () => 'console.log("bundle")' }));
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('serves the page for app paths, with a strict CSP and no third-party origin', async () => {
    for (const path of ['/', '/organizations', '/organizations/org-1/analysis']) {
      const res = await fetch(`${base}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/text\/html/);
      expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
      const html = await res.text();
      expect(html).toContain('/ui/app.js');
      expect(html).not.toMatch(/https?:\/\//);
    }
  });

  it('serves the bundle and the stylesheet', async () => {
    const js = await fetch(`${base}/ui/app.js`);
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    expect(await js.text()).toBe('console.log("bundle")');
    const css = await fetch(`${base}/ui/app.css`);
    expect(css.headers.get('content-type')).toMatch(/text\/css/);
    expect(await css.text()).not.toMatch(/@import|url\(https?:/);
  });

  it('leaves API, OAuth and ops paths and unknown assets alone', async () => {
    expect((await fetch(`${base}/api/v1/organizations`)).headers.get('content-type')).toMatch(/json/);
    for (const path of ['/api/v1/nope', '/oauth/microsoft/callback', '/healthz', '/metrics', '/ui/missing.js', '/logo.png']) {
      expect((await fetch(`${base}${path}`)).status, path).toBe(404);
    }
  });
});

describe('uiRouter default bundle', () => {
  it('bundles the real app with esbuild, with no URL of another origin in it', async () => {
    const app = express();
    app.use(uiRouter());
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/ui/app.js`);
      expect(res.status).toBe(200);
      const js = await res.text();
      expect(js.length).toBeGreaterThan(10_000);
      expect(js).toContain('/api/v1');
      expect(js).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  }, 30_000);
});

describe('consentCallbackScript', () => {
  it('posts the outcome to the opener on the given origin only, and cannot break out of its script tag', () => {
    const script = consentCallbackScript('http://localhost:8080/some/path', {
      ok: false,
      orgId: 'org-1',
      message: 'Declined </script><script>alert(1)</script>',
    });
    expect(script).toContain('"http://localhost:8080"');
    expect(script).toContain('"type":"m365-consent"');
    expect(script).not.toContain('</script>');
    expect(script).not.toContain("'*'");
    // It is valid JavaScript that calls postMessage with our payload.
    const posted: unknown[] = [];
    const fakeWindow = { opener: { closed: false, postMessage: (data: unknown, origin: string) => posted.push([data, origin]) }, close: () => {} };
    new Function('window', 'setTimeout', script)(fakeWindow, () => {});
    expect(posted).toEqual([
      [{ type: 'm365-consent', ok: false, orgId: 'org-1', message: 'Declined </script><script>alert(1)</script>' }, 'http://localhost:8080'],
    ]);
  });
});
