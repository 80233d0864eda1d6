// Aliases: names that point to one model each, moved only when asked to (PUT /aliases/:name, or a
// promoted job's success), and every move logged with where the alias pointed before and after.
// docs/decisions/0030-model-aliases.md.
import type { FastifyBaseLogger } from 'fastify';
import { isModelId } from '../domain/aliases.js';
import { notFound } from '../errors.js';
import type { AliasRecord, Page, PageRequest, Store } from '../store/types.js';
import type { ModelService } from './models.js';

/** Says that an alias moved (or was set, or deleted), and why. */
export type AliasLog = (alias: AliasRecord, cause: string, deleted?: boolean) => void;

/** One log line per alias change: {alias, from, to, cause}; `to` is null when it was deleted. */
export function aliasLog(log: FastifyBaseLogger): AliasLog {
  return (a, cause, deleted = false) => {
    const from = deleted ? a.model : a.previousModel;
    const to = deleted ? null : a.model;
    log.info({ alias: a.name, from, to, cause }, `alias ${a.name}: ${from ?? '(unset)'} → ${to ?? '(deleted)'}`);
  };
}

export class AliasService {
  constructor(
    private readonly store: Store,
    private readonly models: ModelService,
    private readonly log: AliasLog,
  ) {}

  /**
   * Points `name` at the model `ref` names: an id, or another alias (its model id is stored, read
   * from the store now, not from a cache). The model must exist (404 MODEL_NOT_FOUND), checked in
   * the store's transaction. Atomic, and logged when it moved.
   */
  async set(name: string, ref: string): Promise<AliasRecord> {
    const target = isModelId(ref) ? ref : (await this.store.getAlias(ref))?.model;
    if (target === undefined) throw notFound('MODEL_NOT_FOUND', `no model has the id or alias "${ref}"`);
    const before = await this.store.getAlias(name);
    const after = await this.store.setAlias(name, target);
    this.models.invalidateAliases();
    if (before?.model !== after.model) this.log(after, 'PUT /aliases');
    return after;
  }

  async get(name: string): Promise<AliasRecord> {
    const a = await this.store.getAlias(name);
    if (!a) throw notFound('ALIAS_NOT_FOUND', `alias ${name} does not exist`);
    return a;
  }

  list(page: PageRequest): Promise<Page<AliasRecord>> {
    return this.store.listAliases(page);
  }

  async delete(name: string): Promise<void> {
    const a = await this.store.getAlias(name);
    if (!a || !(await this.store.deleteAlias(name))) throw notFound('ALIAS_NOT_FOUND', `alias ${name} does not exist`);
    this.models.invalidateAliases();
    this.log(a, 'DELETE /aliases', true);
  }
}
