// What the console reads stays out of the browser's disk cache: the labels of a face gallery's
// dataset are people's names, and a reply kept in the profile's cache outlives the session, the
// key, and the identity's erasure on the service.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { prepare, session, WAIT } from './session.js';

const LABEL = 'probe-person-4be1c7';
const MODEL = 'probe-model-93d0aa';

/** The files under dir whose bytes hold s. */
function holding(dir: string, s: string): string[] {
  const found: string[] = [];
  for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const file = path.join(e.parentPath, e.name);
    if (e.isFile() && fs.readFileSync(file).includes(s)) found.push(path.relative(dir, file));
  }
  return found;
}

if (prepare())
  t.test("what the console showed is not in the browser profile's files", async (t) => {
    const s = await session(t);
    const { page } = s;
    const ds = await s.call('POST', '/datasets', { name: 'people', dimension: 2 });
    await s.call('POST', `/datasets/${ds.id}/samples`, {
      samples: [
        { label: LABEL, vector: [1, 0] },
        { label: 'other', vector: [0, 1] },
      ],
    });
    await page.goto(`${s.server.base}/console/#/data`);
    await page.click('button:has-text("Labels of people")');
    await page.waitForSelector(`#labels td :text-is("${LABEL}")`, WAIT);
    await s.call('POST', '/models', { W: [[1, 0]], name: MODEL });
    await page.click('nav a[href="#/models"]');
    await page.waitForSelector(`td :text-is("${MODEL}")`, WAIT);
    await s.context.close(); // the profile's files as the browser leaves them
    t.same(holding(s.profile, LABEL), [], 'no file of the profile holds the label');
    t.same(holding(s.profile, MODEL), [], 'nor the name of a model listed');
  });
