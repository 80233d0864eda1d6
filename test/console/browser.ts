// Debian's Chromium driven by playwright-core (no browser download), axe-core injected into pages,
// and screenshots written where CI keeps them (artifacts/console-screenshots).
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { ROOT } from '../../scripts/server-process.js';

export const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOTS = path.join(ROOT, 'artifacts/console-screenshots');

export const hasChromium = (): boolean => fs.existsSync(CHROMIUM);

const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Debian's Chromium, headless and quiet (no GPU, no QUIC, no background traffic: the network is
 * offline), on a profile in `dir` (a fresh --user-data-dir), as a person's: it keeps a disk cache
 * and storage there, which a test can read afterwards.
 */
export function launchProfile(dir: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1280, height: 900 },
  });
}

const axeSource = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[] }[];
}

/**
 * axe-core's WCAG 2 A/AA and best-practice rules on the page as it is. Evaluated through the
 * DevTools protocol, which the page's CSP does not govern (an injected <script> would be refused).
 */
export async function axe(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(axeSource);
  return page.evaluate(async () => {
    // Runs in the page (the test's tsconfig has no DOM types).
    const w = globalThis as any;
    const r = await w.axe.run(w.document, { resultTypes: ['violations'] });
    return r.violations as AxeViolation[];
  });
}

export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** A file dropped on the console's upload box (#drop), as a person drags one there. */
export async function dropFile(page: Page, name: string, content: string | Buffer): Promise<void> {
  const bytes = typeof content === 'string' ? undefined : [...content];
  const text = typeof content === 'string' ? content : '';
  const dt = await page.evaluateHandle(
    ({ name, text, bytes }) => {
      // Runs in the page: its DataTransfer and File (the test's tsconfig has no DOM types).
      const w = globalThis as any;
      const d = new w.DataTransfer();
      d.items.add(new w.File([bytes ? new Uint8Array(bytes) : text], name));
      return d;
    },
    { name, text, bytes },
  );
  await page.dispatchEvent('#drop', 'drop', { dataTransfer: dt });
}
