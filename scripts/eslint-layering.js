// ESLint rule that turns DESIGN.md's layer map into an error naming the allowed layers.
// Arrows point down only: cli -> node -> {admin, protocols} -> session -> {vfs, auth,
// protector} -> config; node -> cluster/replica -> {raft, storage, transport}.
// Protocols never import each other; cluster/ never imports src/.
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');

/** layer -> layers it may import (besides itself). */
export const allowedImports = {
  'src/cli': ['src/node', 'src/config', 'src/logging'],
  'src/node': ['*src', '*cluster'],
  'src/admin': ['src/session', 'src/config', 'src/auth', 'src/protector', 'src/vfs', 'src/logging'],
  'src/protocols/ssh': ['src/session', 'src/auth', 'src/protector', 'src/config', 'src/vfs', 'src/logging'],
  'src/protocols/ftp': ['src/session', 'src/auth', 'src/protector', 'src/config', 'src/vfs', 'src/logging'],
  'src/protocols/http': ['src/session', 'src/auth', 'src/protector', 'src/config', 'src/vfs', 'src/logging'],
  'src/scripting': ['src/session', 'src/config', 'src/logging'],
  'src/web': [],
  'src/session': ['src/vfs', 'src/auth', 'src/protector', 'src/config', 'src/logging'],
  'src/vfs': ['src/config', 'src/logging'],
  'src/auth': ['src/config', 'src/logging'],
  'src/protector': ['src/config', 'src/logging'],
  'src/config': [],
  'src/logging': [],
  'cluster/replica': ['cluster/raft', 'cluster/storage', 'cluster/transport'],
  'cluster/raft': [],
  'cluster/storage': ['cluster/raft'],
  'cluster/transport': ['cluster/raft'],
  'cluster/join': ['cluster/raft', 'cluster/transport', 'cluster/clock'],
  'cluster/gossip': ['cluster/transport'],
  'cluster/clock': [],
};

function layerOf(file) {
  const rel = path.relative(root, file).split(path.sep).join('/');
  return Object.keys(allowedImports)
    .filter((layer) => rel === layer || rel.startsWith(layer + '/'))
    .sort((a, b) => b.length - a.length)[0];
}

function mayImport(from, to) {
  if (from === to) return true;
  return allowedImports[from].some((allowed) =>
    allowed.startsWith('*') ? to.startsWith(allowed.slice(1) + '/') : allowed === to,
  );
}

export const layeringRule = {
  meta: {
    type: 'problem',
    docs: { description: 'keep the import arrows of DESIGN.md' },
    schema: [],
  },
  create(context) {
    const from = layerOf(context.filename);
    if (!from) return {};
    function check(node, source) {
      if (typeof source !== 'string' || !source.startsWith('.')) return;
      const target = path.resolve(path.dirname(context.filename), source);
      const to = layerOf(target);
      const rel = path.relative(root, target).split(path.sep).join('/');
      if (!to) {
        if (rel.startsWith('src/') || rel.startsWith('cluster/')) {
          context.report({ node, message: `${from} imports ${rel}, which is in no layer of DESIGN.md; add the layer to scripts/eslint-layering.js first` });
        }
        return;
      }
      if (!mayImport(from, to)) {
        const allowed = allowedImports[from].join(', ') || 'nothing outside itself';
        context.report({ node, message: `${from} may not import ${to} (DESIGN.md layering). ${from} may import: ${allowed}` });
      }
    }
    return {
      ImportDeclaration: (node) => check(node, node.source.value),
      ExportNamedDeclaration: (node) => node.source && check(node, node.source.value),
      ExportAllDeclaration: (node) => check(node, node.source.value),
      ImportExpression: (node) => node.source.type === 'Literal' && check(node, node.source.value),
    };
  },
};
