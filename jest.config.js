/** One jest run covers unit specs beside the code, contract suites and end-to-end suites. */
module.exports = {
  testEnvironment: 'node',
  rootDir: '.',
  roots: ['<rootDir>/apps', '<rootDir>/libs', '<rootDir>/test'],
  testRegex: '.*\\.(spec|e2e-spec|contract-spec)\\.ts$',
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
  },
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper: {
    '^@visitorbase/(platform|event-store|read-model|users)$': '<rootDir>/libs/$1/src',
    '^@visitorbase/(platform|event-store|read-model|users)/(.*)$': '<rootDir>/libs/$1/src/$2',
  },
  testTimeout: 60000,
};
