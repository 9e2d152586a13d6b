/** Real Hugging Face checkpoints: loading, memory estimate, PEFT adapters, merged export. */
export * from './config';
export * from './memory';
export * from './model';
export * from './processor';
export * from './load';
export * from './adapter';
export { indexWeights, insideFolder, readTensor } from './weights';
export { REFERENCE_CONFIGS } from './reference-configs';
export { SMALL_PLAN, TABLE_PLAN, memoryTableMarkdown, referenceEstimates } from './memory-table';
