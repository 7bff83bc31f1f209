import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.base';

// usocket is an optional dependency with a native addon: it must stay a runtime import,
// resolved (and allowed to be missing) where the package is installed.
// `internal` is the `@pingora-ts/core/internal` subpath (for pingora-ts packages only).
export default defineConfig({ ...packageBuild, entry: { index: 'src/index.ts', internal: 'src/internal.ts' }, external: ['usocket'] });
