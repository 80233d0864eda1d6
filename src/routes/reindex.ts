// POST /galleries/:id/reindex: a background job moves the gallery to another model.
import type { App } from '../app-types.js';
import { errors, IdParams } from '../schemas/common.js';
import { Job, ReindexBody } from '../schemas/jobs.js';

export default async function reindexRoutes(app: App): Promise<void> {
  const { reindex } = app.services;
  app.post(
    '/galleries/:id/reindex',
    {
      schema: {
        tags: ['galleries'],
        summary: 'Move a gallery to another model in a background job',
        description:
          "Embeds every item of the gallery with `model` (an id or an alias, of the gallery's input dimension) in a " +
          '`reindex` job, then switches the gallery to the new embeddings in one transaction. Search answers from the ' +
          'old embeddings until then, never from a mix. Progress, cancel and events as for training jobs (`/jobs/{id}`); ' +
          'a cancelled or failed job leaves the gallery on its model. Answers 202 with the job and `Location: /jobs/{id}`. ' +
          '409 when another reindex of the gallery is under way, or the gallery is already on that model.',
        params: IdParams,
        body: ReindexBody,
        response: { 202: Job, ...errors(400, 404, 409, 422, 429) },
      },
    },
    async (req, reply) => {
      const job = await reindex.start(req.params.id, req.body.model);
      return reply.code(202).header('location', `/jobs/${job.id}`).send(job);
    },
  );
}
