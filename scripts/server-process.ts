// A real server process for tests, benchmarks and the crash test: a free port, the spawn, and the
// wait until /readyz answers. One copy, so every caller starts and watches the server the same way.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** A free TCP port on the loopback interface. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Date.now() when the process exited */
  at: number;
}

export interface ServerProcess {
  proc: ChildProcess;
  port: number;
  base: string;
  /** stdout and stderr so far, when captured */
  output: () => string;
  /** made at spawn, so an exit that happens before anyone waits is never missed */
  exited: Promise<Exit>;
}

export interface StartOptions {
  dataDir: string;
  port?: number;
  /** `built`: node dist/src/server.js (build first); `npm-start`: the README's `npm start` */
  command?: 'built' | 'npm-start';
  /** `capture` keeps the output for output(); `inherit` shows it; `quiet` drops stdout, shows stderr */
  stdio?: 'capture' | 'inherit' | 'quiet';
  logLevel?: string;
  /** more environment, over the defaults (no API keys, loopback, the given port and DATA_DIR) */
  env?: Record<string, string>;
  timeoutMs?: number;
  /** the node binary (default: this process's); e.g. another runtime for a side-by-side benchmark */
  node?: string;
  /** the tree holding dist/ and node_modules/ to run (default: this checkout) */
  root?: string;
}

export async function startServer(opts: StartOptions): Promise<ServerProcess> {
  const port = opts.port ?? (await freePort());
  const root = opts.root ?? ROOT;
  const [cmd, args] =
    opts.command === 'npm-start'
      ? ['npm', ['start']]
      : [opts.node ?? process.execPath, [path.join(root, 'dist/src/server.js')]];
  const stdio = opts.stdio ?? 'capture';
  const proc = spawn(cmd, args, {
    cwd: root,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: opts.dataDir,
      LOG_LEVEL: opts.logLevel ?? 'warn',
      API_KEYS: '',
      API_KEYS_FILE: '',
      ...opts.env,
    },
    stdio: [
      'ignore',
      stdio === 'capture' ? 'pipe' : stdio === 'inherit' ? 'inherit' : 'ignore',
      stdio === 'capture' ? 'pipe' : 'inherit',
    ],
  });
  let out = '';
  proc.stdout?.on('data', (b) => (out += b));
  proc.stderr?.on('data', (b) => (out += b));
  const exited = new Promise<Exit>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  for (;;) {
    try {
      if ((await fetch(`${base}/readyz`)).ok) return { proc, port, base, output: () => out, exited };
    } catch {
      /* not listening yet */
    }
    if (proc.exitCode !== null || proc.signalCode !== null || Date.now() > deadline) {
      if (proc.exitCode === null) proc.kill('SIGKILL');
      throw new Error(`the server did not become ready:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
