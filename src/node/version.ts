// The software name and version, alone so the CLI can print it without loading the node.
export const SOFTWARE = 'Ferry 0.1.0';
