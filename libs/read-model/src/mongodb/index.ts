export * from './mongodb-read-model';
export * from './visitor-document';
