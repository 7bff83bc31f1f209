import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.base';

// usocket is an optional dependency with a native addon: it must stay a runtime import,
// resolved (and allowed to be missing) where the package is installed.
export default defineConfig({ ...packageBuild, external: ['usocket'] });
