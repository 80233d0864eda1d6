// Exact top-k search over a gallery of embeddings (not yet exposed over HTTP: issue 16).
export { createGallery, type Gallery } from './gallery.js';
export { exactSearch, SEARCH_BLOCK_BYTES, QUERY_BATCH } from './exact.js';
export { TopK } from './top-k.js';
export { typedArrayProducts } from './products.js';
export type { SearchHits, SearchMetric, SearchOptions } from './types.js';
