import { ConfError, Opt, OptError, Server } from '@pingora-ts/core';
import { nodeInternals } from '@pingora-ts/core/internal';
import { AccessLogger, createErrorLogger } from '@pingora-ts/observability';
import { AdminService } from './admin-service';
import { buildServices } from './build-services';
import { startErrorReporting } from './error-reporting';
import { logLevel, type LogLevel } from './log-level';
import { reopenLogsOnSignal } from './log-reopening';
import { LbAdmin } from './lb-admin';
import { readiness } from './readiness';
import { lbConfSchema, validateLbConf, type LbConf } from './lb-conf';
import { startTracing } from './tracing/start-tracing';
import { version } from '../package.json';

/** `load_balancer [-h] [-V] [-c conf.yaml] [-d] [-t] [-u]`: Pingora's quick-start load balancer. */
async function main(argv: string[]): Promise<number> {
  let opt: Opt;
  try {
    opt = Opt.parse(argv);
  } catch (err) {
    if (!(err instanceof OptError)) throw err;
    process.stderr.write(`load_balancer: ${err.message}\n${Opt.usage('load_balancer')}`);
    return 1;
  }
  if (opt.help) {
    process.stdout.write(Opt.usage('load_balancer'));
    return 0;
  }
  if (opt.version) {
    process.stdout.write(`load_balancer ${version}\n`);
    return 0;
  }

  let server: Server<LbConf>;
  let level: LogLevel;
  try {
    server = new Server<LbConf>(opt, { schema: lbConfSchema, validate: validateLbConf, program: 'load_balancer', version });
    level = logLevel(server.conf);
  } catch (err) {
    if (!(err instanceof ConfError)) throw err;
    process.stderr.write(`load_balancer: config error: ${err.message}\n`);
    return 1;
  }
  const conf = server.conf;

  // -t answered, or the parent of a daemon that now serves (or failed): nothing to run here.
  const boot = await server.bootstrap();
  if (boot.done) return boot.exitCode;
  const logger = createErrorLogger({ path: conf.error_log, level });
  server.logger = logger;
  // Which Node internals this Node.js has, and what runs instead of a missing one (core's docs/node-internals.md).
  if (server.role !== 'worker') {
    const internals = Object.fromEntries(nodeInternals().map((i) => [i.name, i.available ? 'ok' : `${i.reason} (${i.fallback ?? 'no fallback'})`]));
    logger.info({ node: process.version, ...internals }, 'node internals');
  }
  // The SDK where requests are served (each worker with threads > 1), registered before the proxies listen.
  const tracing = conf.tracing === undefined || server.role === 'primary' ? null : await startTracing(conf.tracing, logger, version);
  const access = new AccessLogger({ path: conf.access_log, format: conf.access_log_format });
  const stopReopening = reopenLogsOnSignal(server, [logger, access], logger);
  const reporting = conf.sentry === undefined ? undefined : await startErrorReporting(server, conf.sentry, logger, version);
  const publishes = server.role !== 'worker';
  // Metrics only with the admin endpoint that serves them: without it nothing subscribes, and the proxy builds no message.
  const admin = conf.admin === undefined ? undefined : new LbAdmin(server, publishes, version);
  if (admin !== undefined && tracing !== null) admin.metrics.metrics.trackSpanExport(() => tracing.stats());
  if (admin !== undefined && reporting !== undefined) admin.metrics.metrics.trackSentry(() => reporting.counts);
  const { services, pool } = buildServices(conf, logger, access, { channel: server.channel, publishes }, admin);
  server.addServices(services);
  if (conf.admin !== undefined && admin !== undefined && publishes) {
    const source = {
      metricsText: () => admin.metrics.text(),
      readiness: () => readiness(server, admin.metrics.balancers),
      status: () => admin.status.status(),
      setEnabled: (service: string, addr: string, enabled: boolean) => admin.control.set(service, addr, enabled),
    };
    server.addService(new AdminService(conf.admin, source, logger));
  }
  const code = await server.run();
  admin?.stop();
  // How well upstream connections were reused over the whole run (read by the benchmarks).
  const { newConnections, reusedConnections } = pool.stats();
  logger.info({ newConnections, reusedConnections }, 'pool stats');
  stopReopening();
  await tracing?.shutdown(2000);
  await reporting?.close();
  await access.flush();
  logger.flush();
  return code;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    // Anything unexpected still ends in one clear line, never a stack trace.
    process.stderr.write(`load_balancer: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
