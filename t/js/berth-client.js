// berth-client.js: @kubernetes/client-node for the berth under test. Shared by
// t/js/client-node.js and the scripts t/6200-exec.t and t/6210-port-forward.t write
// (they require it through $TOP, which t/lib/test-lib.sh exports).
'use strict';

const path = require('path');
const { createRequire } = require('module');
const { pathToFileURL } = require('url');

// The package is an ES module, and ESM resolution ignores NODE_PATH: resolve its entry
// point through a require rooted in NODE_PATH, then import that file.
async function loadClient() {
    const roots = (process.env.NODE_PATH || '').split(path.delimiter).filter(Boolean);
    for (const root of roots) {
        try {
            const req = createRequire(path.join(path.resolve(root), 'noop.js'));
            return await import(pathToFileURL(req.resolve('@kubernetes/client-node')).href);
        } catch (e) {
            // try the next root
        }
    }
    return import('@kubernetes/client-node');
}

// A KubeConfig naming only the server (default BERTH_URL): anonymous, plain HTTP.
function berthKubeConfig(k8s, url = process.env.BERTH_URL) {
    const kc = new k8s.KubeConfig();
    kc.loadFromOptions({
        clusters: [{ name: 'berth', server: url, skipTLSVerify: true }],
        users: [{ name: 'tester' }],
        contexts: [{ name: 'berth', cluster: 'berth', user: 'tester' }],
        currentContext: 'berth',
    });
    return kc;
}

module.exports = { loadClient, berthKubeConfig };
