import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// Built by local/console.ts (npm start, npm install's prepare) into console/dist, served at /console/.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/console/',
  plugins: [react()],
  // Monaco's workers (GraphiQL's editor) are ES modules.
  worker: { format: 'es' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // GraphiQL with Monaco is one large chunk by nature; it is loaded only on the GraphQL page.
    chunkSizeWarningLimit: 6000,
    sourcemap: false,
    rolldownOptions: {
      onLog(level, log, handler) {
        // GraphiQL marks modules "use no memo" for the React Compiler, which this build does not run.
        if (log.code === 'MODULE_LEVEL_DIRECTIVE') return;
        handler(level, log);
      },
    },
  },
});
