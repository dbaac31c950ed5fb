export * from './events';
export * from './environment';
export * from './limits';
export * from './profile';
export * from './visitor-id';
export * from './visitor-stream';
