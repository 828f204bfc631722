// The import rule of docs/architecture.md, checked by `pnpm lint` (depcruise over every
// package's and app's src/). A workspace package resolves to its real folder
// (packages/<name>/...), so the rules name folders.
const PEERS = 'server|loadgen|monitor|doctor|observe';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'peers-apart',
      comment: 'server, loadgen, monitor, doctor and observe never import each other: they meet through @kalab/protocol',
      severity: 'error',
      from: { path: `^packages/(${PEERS})/` },
      to: { path: `^packages/(${PEERS})/`, pathNot: '^packages/$1/' },
    },
    {
      name: 'core-alone',
      comment: '@kalab/core imports no other lab package',
      severity: 'error',
      from: { path: '^packages/core/' },
      to: { path: '^(packages/(?!core/)|apps/)' },
    },
    {
      name: 'protocol-on-core',
      comment: '@kalab/protocol imports only @kalab/core',
      severity: 'error',
      from: { path: '^packages/protocol/' },
      to: { path: '^(packages/(?!protocol/|core/)|apps/)' },
    },
    {
      name: 'scenarios-on-engines',
      comment: '@kalab/scenarios uses core, protocol, the server and the loadgen, nothing else of the lab',
      severity: 'error',
      from: { path: '^packages/scenarios/' },
      to: { path: '^(packages/(monitor|doctor|observe)/|apps/)' },
    },
    {
      name: 'packages-below-apps',
      comment: 'dependencies point one way: the CLI uses the packages, never the reverse; nothing but the CLI uses scenarios',
      severity: 'error',
      from: { path: '^packages/(?!scenarios/)' },
      to: { path: '^(apps/|packages/scenarios/)' },
    },
    {
      name: 'no-deep-import',
      comment: "another package is used through its exports map, never through its src/ (or a path into dist/ it does not export)",
      severity: 'error',
      from: { path: '^(packages|apps)/([^/]+)/' },
      to: { path: '^(packages|apps)/([^/]+)/src/', pathNot: '^$1/$2/' },
    },
    {
      name: 'resolvable',
      comment: 'every import resolves: a lab package a package does not declare as a dependency does not',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(dist|test)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.base.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'types', 'default'] },
  },
};
