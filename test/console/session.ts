// One console test's world: the built server as a real process, Debian's Chromium with a fresh
// profile, and a page whose script errors are collected. Every console test sets up here: the
// tests in this folder and test/console.test.ts, the whole flow.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import type { BrowserContext, Page } from 'playwright-core';
import { ROOT, startServer, type ServerProcess } from '../../scripts/server-process.js';
import { hasChromium, launchProfile } from './browser.js';

export const WAIT = { timeout: 120_000 };

/**
 * Builds dist/ and dist/console as `npm start` does; false (the file's tests planned away) without
 * Chromium, which fails instead under CI=true.
 */
export function prepare(): boolean {
  if (!hasChromium()) {
    if (process.env.CI === 'true') t.fail('/usr/bin/chromium is missing: apt-get install chromium');
    else t.plan(0, 'no /usr/bin/chromium (apt-get install chromium)');
    return false;
  }
  const built = spawnSync(process.execPath, ['scripts/build.mjs', '--quiet'], { cwd: ROOT, stdio: 'inherit' });
  if (built.status !== 0) throw new Error('scripts/build.mjs failed');
  return true;
}

export interface Session {
  server: ServerProcess;
  dataDir: string;
  profile: string;
  context: BrowserContext;
  page: Page;
  /** script errors and CSP reports in the page so far (a refused request's own line excepted) */
  problems: string[];
  /** an API call to the server from the test, with the key when there is one */
  call: (method: string, url: string, body?: unknown) => Promise<any>;
  /** stops the server process (SIGTERM) and starts it again on its port and data */
  stop: () => Promise<void>;
  start: () => Promise<void>;
  /** freezes the server process (SIGSTOP: it keeps its connections and answers nothing), thaws it */
  freeze: () => void;
  thaw: () => void;
}

export interface SessionOptions {
  /**
   * The page's console errors that are not problems: by default every failed load (a test that
   * stops the service provokes them); the whole flow allows only the 401 and 404 it provokes.
   */
  ignore?: RegExp;
}

export async function session(
  t: Test,
  env: Record<string, string> = {},
  { ignore = /Failed to load resource/ }: SessionOptions = {},
): Promise<Session> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'console-rt-data-'));
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'console-rt-profile-'));
  // Load shedding off, as in testApp: a busy machine must not turn the console's calls into 503s.
  const serverEnv = { MAX_EVENT_LOOP_DELAY_MS: '0', JOB_SPARE_WORKER: 'off', ...env };
  const s = {} as Session;
  s.dataDir = dataDir;
  s.profile = profile;
  s.server = await startServer({ dataDir, command: 'built', env: serverEnv });
  const port = s.server.port;
  s.freeze = () => s.server.proc.kill('SIGSTOP');
  s.thaw = () => s.server.proc.kill('SIGCONT');
  s.stop = async () => {
    s.thaw();
    s.server.proc.kill('SIGTERM');
    await s.server.exited;
  };
  s.start = async () => {
    s.server = await startServer({ dataDir, port, command: 'built', env: serverEnv });
  };
  s.context = await launchProfile(profile);
  t.teardown(async () => {
    await s.context.close();
    if (s.server.proc.exitCode === null && s.server.proc.signalCode === null) await s.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(profile, { recursive: true, force: true });
  });
  s.page = s.context.pages()[0] ?? (await s.context.newPage());
  s.problems = [];
  s.page.on('console', (m) => {
    if (m.type() === 'error' && !ignore.test(m.text())) s.problems.push(m.text());
  });
  s.page.on('pageerror', (e) => s.problems.push(`page error: ${e.message}`));
  const key = env.API_KEYS?.split(',')[0];
  s.call = async (method, url, body) => {
    const res = await fetch(`${s.server.base}${url}`, {
      method,
      headers: {
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${text}`);
    return JSON.parse(text);
  };
  return s;
}

/** Whether a bounded wait (a waitForSelector) ended with what it waited for. */
export const holds = (p: Promise<unknown>): Promise<boolean> =>
  p.then(
    () => true,
    () => false,
  );

/** Whether the live region shows no error (again), within WAIT. */
export const noError = (page: Page): Promise<boolean> =>
  holds(page.waitForSelector('#status:not(.error)', { state: 'attached', ...WAIT }));

/** A dataset of one triplet and a training job on it: queued for good under ROLE=api, its stream open. */
export async function queuedJob(s: Session): Promise<{ datasetId: string; jobId: string }> {
  const ds = await s.call('POST', '/datasets', { name: 'ds', dimension: 2 });
  await s.call('POST', `/datasets/${ds.id}/triplets`, {
    triplets: [{ anchor: [1, 0], positive: [1, 0.1], negative: [0, 1] }],
  });
  const job = await s.call('POST', '/train', { datasetId: ds.id, outputDimension: 1 });
  return { datasetId: ds.id, jobId: job.id };
}
