// autocannon ships no types; the bench uses a small, checked-at-runtime slice of its result.
declare module 'autocannon';
