/**
 * The study engine behind `npm run demo` and `npm run experiment`: one base, one pair dataset,
 * the same seeds and steps for every arm; each trained arm is scored on held-out scenes.
 *
 *   prepareStudy   load the base, sample + judge pairs (written as an ordinary dataset folder,
 *                  read back through importDataset + createPreferenceSource, the path user data
 *                  takes), held-out pairs for image reliance, the evaluation scenes
 *   runArm         train one arm with one seed (LoRA on the language model) and evaluate it
 *   assembleResults / writeResults   results.json, results.md, report.html
 *
 * No SQLite and nothing of src/main here: the run store is written by hooks (src/main/demo-store.ts).
 */
export * from './settings';
export * from './prepare';
export * from './arm';
