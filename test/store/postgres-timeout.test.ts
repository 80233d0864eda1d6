// A PostgreSQL server that accepts connections and then says nothing (a network that drops packets,
// a hung server): the store gives up after its connect timeout with 503 STORAGE_UNAVAILABLE instead
// of holding the caller forever. Needs no PostgreSQL: the silent server is a plain TCP socket.
import net from 'node:net';
import t from 'tap';
import { openPostgresStore } from '../../src/store/postgres.js';

t.test('a silent server: opening fails with STORAGE_UNAVAILABLE after the connect timeout', async (t) => {
  const sockets = new Set<net.Socket>();
  const silent = net.createServer((s) => void sockets.add(s));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    silent.close();
  });
  const { port } = silent.address() as net.AddressInfo;
  await t.rejects(openPostgresStore(`postgres://u@127.0.0.1:${port}/db`, { connectTimeoutMs: 300 }), {
    code: 'STORAGE_UNAVAILABLE',
    message: /connection timeout/,
  });
  t.ok(sockets.size > 0, 'it did connect, and got no answer');
});
