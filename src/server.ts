// Process entry: config → buildApp → listen; SIGTERM/SIGINT → graceful close.
import { buildApp, loggerOptions } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { DomainError } from './domain/errors.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(e.message);
      process.exit(2);
    }
    throw e;
  }
  const app = await buildApp(config, { logger: loggerOptions(config, { pretty: process.stdout.isTTY === true }) });
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down: no new requests, in-flight ones finish, running jobs are parked');
    // The deadline keeps a stuck close from outliving the orchestrator's grace period.
    const deadline = setTimeout(() => {
      app.log.error('shutdown took longer than 9 s; exiting');
      process.exit(1);
    }, 9000);
    deadline.unref();
    // Fastify closes idle keep-alive sockets once; ones that go idle later would hold the close open.
    const sweep = setInterval(() => app.server.closeIdleConnections(), 100);
    sweep.unref();
    app.close().then(
      () => process.exit(0),
      (err) => {
        app.log.error({ err }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  await app.listen({ port: config.port, host: config.host });
}

main().catch((err) => {
  // A refusal to start (the store cannot open DATA_DIR or reach its database) is the operator's
  // to fix: one line that says what, no stack. Anything else is a bug and keeps its stack.
  if (err instanceof DomainError) console.error(`cannot start: ${err.message.replace(/\s*\n\s*/g, ' ')}`);
  else console.error(err);
  process.exit(1);
});
