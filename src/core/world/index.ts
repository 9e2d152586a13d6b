/** The built-in scenes world (docs/world.md): one import for the demo, the CLI and the app. */
export * from './objects';
export * from './themes';
export * from './scene';
export * from './render';
export * from './grammar';
export * from './vocabulary';
export * from './sft';
export * from './pope';
export * from './judge';
export * from './annotations';
export * from './dataset';
export * from './splits';
export * from './evaluate';
export * from './pairs';
export * from './answerers';
export * from './base';
export * from './preference';
