// Lint rules: typescript-eslint's recommended set on every .ts file, nothing stylistic (prettier owns that),
// and the architecture's dependency rules (eslint-plugin-boundaries), described in docs/architecture.md.
import js from '@eslint/js';
import boundaries from 'eslint-plugin-boundaries';
import tseslint from 'typescript-eslint';

/**
 * The layers, first match wins:
 * - root: the composition root and process entry points (they wire everything and may import anything);
 * - transport: the chat transports (Slack, console); only the Slack transport imports Bolt;
 * - chat: the transport-neutral chat port and Block Kit builders;
 * - adapter: one per outside service, returning our own types;
 * - store: the Redis and in-memory implementations of the store port;
 * - drill: the embedded simulated cloud;
 * - step: one element per runbook step folder, `flows/<step>/`; another step reaches it only through its public
 *   entry, `index.ts` (the interfaces it offers other steps), and the step list through `step.ts`;
 * - commands: the step list and the command plumbing every step shares (`commands/`);
 * - domain: the rules and types of the runbook, knowing no adapter, chat, store implementation or step.
 */
const elements = [
  { type: 'root', pattern: 'src/{main,bot,deps,http,startup,adapters-build}.ts', mode: 'file' },
  { type: 'transport', pattern: ['src/chat/slack/**', 'src/chat/console/**'], partialMatch: false },
  { type: 'chat', pattern: 'src/chat/**', partialMatch: false },
  { type: 'adapter', pattern: 'src/adapters/**', partialMatch: false },
  { type: 'store', pattern: 'src/store/{redis,memory,connect,slots}.ts', mode: 'file' },
  { type: 'drill', pattern: 'src/drill/**', partialMatch: false },
  { type: 'step', pattern: 'flows/*', mode: 'folder', capture: ['step'] },
  // A file straight under flows/ belongs to no step folder; it still obeys the step's rules.
  { type: 'step', pattern: 'flows/*.ts', mode: 'file', capture: ['step'] },
  { type: 'commands', pattern: 'commands/**', partialMatch: false },
  { type: 'domain', pattern: ['src/*.ts', 'src/store/store.ts'], mode: 'file' },
  { type: 'domain', pattern: 'src/{postmortem,chart}/**', partialMatch: false },
];

const allow = (from, to) => ({
  from: { element: { type: from } },
  allow: { to: { element: { types: { anyOf: to } } } },
});

/** Another step's public entry: `index.ts` for the steps, `step.ts` (the step's one value) for the step list too. */
const stepEntry = (files) => ({ element: { type: 'step', fileInternalPath: files } });

export const layerRules = [
  allow('domain', ['domain']),
  allow('adapter', ['adapter', 'domain']),
  allow('store', ['store', 'domain']),
  allow('chat', ['chat', 'domain']),
  allow('transport', ['transport', 'chat', 'domain', 'root']),
  allow('step', ['commands', 'chat', 'adapter', 'domain', 'root']),
  // Inside one step folder everything is internal (not checked); across steps, only the other's index.ts.
  { from: { element: { type: 'step' } }, allow: { to: stepEntry('index.ts') } },
  allow('commands', ['commands', 'chat', 'adapter', 'domain', 'root']),
  { from: { element: { type: 'commands' } }, allow: { to: stepEntry(['index.ts', 'step.ts']) } },
  allow('drill', ['drill', 'adapter', 'domain']),
  allow('root', ['root', 'transport', 'chat', 'adapter', 'store', 'drill', 'step', 'commands', 'domain']),
];

export default tseslint.config(
  { ignores: ['node_modules/**', 'evidence/**', 'bench/results/**', '.tmp/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['src/**/*.ts', 'flows/**/*.ts', 'commands/**/*.ts'],
    plugins: { boundaries },
    settings: {
      'boundaries/elements': elements,
      // Files directly under src/ are classified one by one (`mode: 'file'`); v7 calls that legacy but has no
      // other way to classify single files as elements, so its deprecation notice is switched off.
      'boundaries/legacy-warnings': false,
      'boundaries/include': ['src/**/*.ts', 'flows/**/*.ts', 'commands/**/*.ts'],
      'import/resolver': { node: { extensions: ['.ts', '.js'] } },
    },
    rules: {
      'boundaries/dependencies': ['error', { default: 'disallow', policies: layerRules }],
      // Only the Slack transport speaks Bolt; everything else talks to the chat port.
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: '@slack/bolt', message: 'Only src/chat/slack/ imports Bolt; use the chat port.' }],
        },
      ],
    },
  },
  {
    files: ['src/chat/slack/**/*.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
);
