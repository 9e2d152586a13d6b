/** Real preference data: import, validation, preprocessing, hard negatives (README.md). */
export * from './types';
export { importDataset, scanDataset, validateDataset, type ImportOptions, type RecordSink, type ScanResult } from './import';
export { detectDataset, type DetectOptions, type DetectedDataset } from './detect';
export { CHARS_PER_TOKEN, type CharBudget, type TokenBudget, type TokenCounter, type ValidateOptions } from './validate';
export { DEFAULT_MAX_PIXELS, checkImageBytes, type ImageCheckOptions } from './image-check';
export { cleanPrompt, countImageMarkers, stripChatTemplate, stripImageMarkers } from './text';
export * from './negatives';
export { ImageCache, CACHE_VERSION } from './image-cache';
export { decodeRgb, loadImage, loadRgb, normalize, outputShape, readImageBytes, toUnit, type LoadOptions, type PreprocessParams } from './preprocess';
export { clearParquetCellCache } from './read-files';
export { previewNegatives, type NegativePreview, type PreviewOptions } from './preview';
export { createPreferenceSource, DatasetPreferenceSource, type SkippedRecord, type SourceOptions } from './source';
export { readRecordsFile, readRecordsFileSync, RecordsWriter } from './records-file';
