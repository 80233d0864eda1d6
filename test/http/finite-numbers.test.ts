// Numbers that JSON or a query string reads as ±Infinity (1e309, "Infinity") are refused by
// validation with 400 NON_FINITE_VALUE naming the field, for every schema'd number: before, a
// field without its own finite check (search's maxDistance, identification ranks) took Infinity
// through to a 500.
import t from 'tap';
import { expectError, identityGallery, testApp } from '../helpers.js';

t.test('±Infinity in any number field of a body, query or NDJSON line is 400 NON_FINITE_VALUE', async (t) => {
  const app = await testApp(t);
  const { model, gallery } = await identityGallery(app);
  const items = [0, 1, 2, 3].map((i) => ({ id: `i${i}`, label: `p${i % 2}`, input: [i, i % 2] }));
  t.equal(
    (await app.inject({ method: 'POST', url: `/galleries/${gallery}/items`, payload: { items } })).statusCode,
    201,
  );
  const dataset = (await app.inject({ method: 'POST', url: '/datasets', payload: { dimension: 2 } })).json()
    .id as string;
  const samples = [0, 1, 2, 3, 4, 5].map((i) => ({ vector: [i, (i * 7) % 3], label: i % 2 }));
  t.equal(
    (await app.inject({ method: 'POST', url: `/datasets/${dataset}/samples`, payload: { samples } })).statusCode,
    201,
  );

  const json = (url: string, payload: string) =>
    app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload });
  const cases: [string, () => ReturnType<typeof json>, RegExp][] = [
    ['search maxDistance 1e309', () => json(`/galleries/${gallery}/search`, '{"embeddings":[[1,1]],"k":2,"maxDistance":1e309}'), /^body\.maxDistance must be a finite number \(got Infinity\)/],
    ['search k -1e309', () => json(`/galleries/${gallery}/search`, '{"embeddings":[[1,1]],"k":-1e309}'), /^body\.k must be a finite number/],
    ['binary search maxDistance=Infinity', () => app.inject({ method: 'POST', url: `/galleries/${gallery}/search?k=1&maxDistance=Infinity`, headers: { 'content-type': 'application/octet-stream' }, payload: Buffer.from(new Float32Array([1, 1]).buffer) }), /^querystring\.maxDistance must be a finite number/],
    ['binary search maxDistance=1e999', () => app.inject({ method: 'POST', url: `/galleries/${gallery}/search?k=1&maxDistance=1e999`, headers: { 'content-type': 'application/octet-stream' }, payload: Buffer.from(new Float32Array([1, 1]).buffer) }), /^querystring\.maxDistance must be a finite number \(got Infinity\)/],
    ['evaluate ranks [1e309]', () => json(`/models/${model}/evaluate`, `{"datasetId":"${dataset}","identification":{"ranks":[1e309]}}`), /^body\.identification\.ranks\[0\] must be a finite number/],
    ['evaluate fars [1e-400, -1e400]', () => json(`/models/${model}/evaluate`, `{"datasetId":"${dataset}","verification":{"fars":[0.1,-1e400]}}`), /must be a finite number \(got -Infinity\)/],
    ['sample label 1e309', () => json(`/datasets/${dataset}/samples`, '{"samples":[{"vector":[1,2],"label":1e309}]}'), /^body\.samples\[0\]\.label must be a finite number/],
    ['NDJSON sample label -1e309', () => app.inject({ method: 'POST', url: `/datasets/${dataset}/samples`, headers: { 'content-type': 'application/x-ndjson' }, payload: '{"vector":[1,2],"label":-1e309}\n' }), /^line 1\.label must be a finite number/],
  ]; // prettier-ignore
  for (const [name, send, message] of cases) {
    const r = await send();
    t.test(name, async (t) => {
      expectError(t, r, 400, 'NON_FINITE_VALUE');
      t.match(r.json().message, message);
    });
  }
  t.equal((await app.inject({ url: `/datasets/${dataset}` })).json().sampleCount, 6, 'no sample was added');
  // finite values of the same fields still pass
  const ok = await json(`/galleries/${gallery}/search`, '{"embeddings":[[1,1]],"k":2,"maxDistance":1e300}');
  t.equal(ok.statusCode, 200, ok.body);
});
