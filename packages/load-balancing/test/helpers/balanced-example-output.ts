/** What every run of examples/balanced-dispatcher.mjs prints, wherever it is installed. */
export function expectBalancedDispatcherRun(stdout: string): void {
  const lines = stdout.trim().split('\n');
  expect(lines).toContain('killing beta');
  expect(lines).toContain('failed requests: 0');
  expect(lines).toContain('health: beta is unhealthy');
  expect(lines).toContain('beta ready: false');
  expect(lines).toContain('in flight: alpha=0 beta=0 gamma=0');
  const answers = /^answers: alpha=(\d+) beta=(\d+) gamma=(\d+)$/m.exec(stdout);
  expect(answers).not.toBeNull();
  const [alpha, beta, gamma] = answers!.slice(1).map(Number) as [number, number, number];
  expect(alpha + beta + gamma).toBe(300);
  expect(beta).toBeLessThanOrEqual(100); // nothing after it was killed
  const attempts = /^failed attempts, each retried on another backend: (.*)$/m.exec(stdout);
  expect(Object.keys(JSON.parse(attempts![1]!) as object).every((k) => /^beta (reset|connect_error)$/.test(k))).toBe(true);
  expect(lines[lines.length - 1]).toMatch(/^fetch -> (alpha|gamma)$/);
}
