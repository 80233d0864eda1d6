// POST /models/:id/evaluate on samples whose labels each appear once (docs/decisions/0071): no
// sample has another of its label to retrieve, so the retrieval figures are null (not the 0 of a
// model that is always wrong), with queryCount 0; and the reply still validates against its schema.
import t from 'tap';
import { Value } from '@sinclair/typebox/value';
import { EvaluateReply } from '../../src/schemas/models.js';
import { testApp } from '../helpers.js';
import { evaluate, identity, importModel, upload } from './verification-route.js';

t.test('every label once: no query, no retrieval figures', async (t) => {
  const app = await testApp(t, { config: { compute: { kernels: 'js', threads: 1, embedHelpers: 0, wide: 'off' } } });
  const model = await importModel(app, identity(2));
  const X = [
    [0, 0],
    [1, 0],
    [0, 2],
    [3, 3],
  ];
  const distinct = await upload(app, X, ['a', 'b', 'c', 'd']);
  const r = await evaluate(app, model, { datasetId: distinct });
  t.equal(r.statusCode, 200);
  const body = r.json();
  t.match(body, { precisionAt1: null, rPrecision: null, mapAtR: null, queryCount: 0, sampleCount: 4 });
  t.same([...Value.Errors(EvaluateReply, body)], [], 'the reply validates against EvaluateReply');

  // one label twice: two queries, figures again
  const pair = await upload(app, X, ['a', 'a', 'c', 'd']);
  const p = (await evaluate(app, model, { datasetId: pair })).json();
  t.match(p, { precisionAt1: 1, rPrecision: 1, mapAtR: 1, queryCount: 2, sampleCount: 4 });
  t.same([...Value.Errors(EvaluateReply, p)], [], 'and validates');
});
