import { Type } from '@sinclair/typebox';
import type { App } from '../app-types.js';
import { ALIAS_NAME_PATTERN, DEFAULT_ALIAS } from '../domain/aliases.js';
import { Alias, AliasParams, PutAliasBody } from '../schemas/aliases.js';
import { errors, ListOf, PageQuery } from '../schemas/common.js';

export default async function aliasRoutes(app: App): Promise<void> {
  const { aliases } = app.services;
  const tags = ['models'];

  app.put(
    '/aliases/:name',
    {
      schema: {
        tags,
        summary: 'Point an alias at a model',
        description:
          `Creates the alias or moves it, atomically (and logs the move). Names match ${ALIAS_NAME_PATTERN}. ` +
          `\`${DEFAULT_ALIAS}\` serves requests that name no model. Wherever a request names a model, an alias may stand ` +
          'for its id. 404 when the model does not exist; while an alias points to a model, the model cannot be deleted.',
        params: AliasParams,
        body: PutAliasBody,
        response: { 200: Alias, ...errors(400, 404, 415) },
      },
    },
    async (req) => aliases.set(req.params.name, req.body.model),
  );

  app.get(
    '/aliases',
    {
      schema: {
        tags,
        summary: 'List aliases',
        description: 'Newest first.',
        querystring: PageQuery,
        response: { 200: ListOf(Alias), ...errors(400) },
      },
    },
    async (req) => aliases.list({ limit: req.query.limit ?? 100, cursor: req.query.cursor }),
  );

  app.get(
    '/aliases/:name',
    {
      schema: {
        tags,
        summary: 'Get an alias',
        description: 'The model it points to, the one before, and when it last moved.',
        params: AliasParams,
        response: { 200: Alias, ...errors(400, 404) },
      },
    },
    async (req) => aliases.get(req.params.name),
  );

  app.delete(
    '/aliases/:name',
    {
      schema: {
        tags,
        summary: 'Delete an alias',
        description: `The model stays. Without \`${DEFAULT_ALIAS}\`, requests that name no model answer 409 NO_MODEL.`,
        params: AliasParams,
        response: { 204: Type.Null({ description: 'Deleted' }), ...errors(400, 404) },
      },
    },
    async (req, reply) => {
      await aliases.delete(req.params.name);
      return reply.code(204).send(null);
    },
  );
}
