import { resolve } from 'node:path';
import { defineConfig } from 'electron-vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// Main-process entries. Every one of them runs in plain Node too (the CLI, browser mode and
// the trainer child process) except `index`, which is the Electron shell.
const mainEntries = {
  index: resolve(__dirname, 'src/main/index.ts'),
  // The trainer process (utilityProcess in Electron, child_process.fork elsewhere).
  trainer: resolve(__dirname, 'src/main/trainer/child.ts'),
  // The `mdpo` CLI (src/main/bin/mdpo.mjs runs it when there is no tsx).
  cli: resolve(__dirname, 'src/main/cli.ts'),
};

export default defineConfig({
  main: {
    build: {
      externalizeDeps: true,
      rollupOptions: { input: mainEntries },
    },
  },
  preload: {
    build: {
      externalizeDeps: true,
      // Sandboxed preloads must be CommonJS.
      rollupOptions: {
        input: { index: resolve(__dirname, 'src/preload/index.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: resolve(__dirname, 'src/renderer'),
    plugins: [svelte()],
    build: {
      rollupOptions: { input: { index: resolve(__dirname, 'src/renderer/index.html') } },
    },
  },
});
