// client-node.js: drives berth with the official @kubernetes/client-node (1.x) and prints TAP.
//
// Run by t/3900-client-node.t as `node t/js/client-node.js` with BERTH_URL set and NODE_PATH
// pointing at .tools/node/node_modules (scripts/fetch-tools.sh installs it there).
// Checks: list namespaces; create a ConfigMap; patch it with the generated client's default
// content type (application/json-patch+json); read it back; a 404 as an ApiException; an
// informer on pods that sees ADDED, UPDATED and DELETED for a pod this script creates,
// patches and deletes. A global timer fails the run after 30 s so nothing can hang prove.
'use strict';

const { loadClient, berthKubeConfig } = require('./berth-client.js');

const TIMEOUT_MS = 30000;
let n = 0;
let failed = 0;

function ok(cond, title, detail) {
    n++;
    console.log(`${cond ? 'ok' : 'not ok'} ${n} - ${title}`);
    if (!cond) {
        failed++;
        if (detail !== undefined) {
            const text = typeof detail === 'string' ? detail : JSON.stringify(detail);
            for (const line of text.split('\n')) console.log(`#   ${line}`);
        }
    }
    return cond;
}

function is(got, want, title) {
    const g = JSON.stringify(got);
    const w = JSON.stringify(want);
    return ok(g === w, title, `got:      ${g}\nexpected: ${w}`);
}

function finish() {
    console.log(`1..${n}`);
    process.exit(failed ? 1 : 0);
}

const timer = setTimeout(() => {
    ok(false, `finished within ${TIMEOUT_MS / 1000} s`, 'global timeout: something hung');
    finish();
}, TIMEOUT_MS);

// waitFor(pred, ms): resolves true once pred() is true, false after ms (polled every 50 ms).
function waitFor(pred, ms) {
    return new Promise((resolve) => {
        const start = Date.now();
        const tick = () => {
            if (pred()) return resolve(true);
            if (Date.now() - start > ms) return resolve(false);
            setTimeout(tick, 50);
        };
        tick();
    });
}

async function main() {
    const url = process.env.BERTH_URL;
    if (!url) {
        console.log('Bail out! BERTH_URL is not set');
        process.exit(1);
    }
    const k8s = await loadClient();
    const kc = berthKubeConfig(k8s, url);
    const core = kc.makeApiClient(k8s.CoreV1Api);

    // 1. namespaces
    const nsList = await core.listNamespace();
    const names = nsList.items.map((ns) => ns.metadata.name).sort();
    for (const want of ['default', 'kube-node-lease', 'kube-public', 'kube-system']) {
        ok(names.includes(want), `listNamespace includes ${want}`, names);
    }
    ok(Number(nsList.metadata.resourceVersion) > 0, 'the namespace list has a resourceVersion',
        nsList.metadata);

    const ns = 'cn';
    const created = await core.createNamespace({ body: { metadata: { name: ns } } });
    is(created.metadata.name, ns, 'createNamespace');

    // 2. ConfigMap create, JSON patch, read back
    const cm = await core.createNamespacedConfigMap({
        namespace: ns,
        body: { metadata: { name: 'cfg', labels: { app: 'cn' } }, data: { a: '1' } },
    });
    ok(cm.metadata.uid && cm.metadata.resourceVersion, 'createNamespacedConfigMap returns uid and resourceVersion', cm.metadata);

    const patched = await core.patchNamespacedConfigMap({
        name: 'cfg',
        namespace: ns,
        body: [
            { op: 'replace', path: '/data/a', value: '2' },
            { op: 'add', path: '/data/b', value: '3' },
        ],
    });
    is(patched.data, { a: '2', b: '3' }, 'patchNamespacedConfigMap with the default json-patch content type');
    ok(Number(patched.metadata.resourceVersion) > Number(cm.metadata.resourceVersion),
        'the patch moved resourceVersion', [cm.metadata.resourceVersion, patched.metadata.resourceVersion]);

    const read = await core.readNamespacedConfigMap({ name: 'cfg', namespace: ns });
    is(read.data, { a: '2', b: '3' }, 'readNamespacedConfigMap sees the patch');
    is(read.metadata.labels, { app: 'cn' }, 'labels survived the patch');

    const cms = await core.listNamespacedConfigMap({ namespace: ns, labelSelector: 'app=cn' });
    is(cms.items.map((c) => c.metadata.name), ['cfg'], 'listNamespacedConfigMap with a labelSelector');

    // 3. errors surface as ApiException with the HTTP code
    try {
        await core.readNamespacedConfigMap({ name: 'nope', namespace: ns });
        ok(false, 'reading a missing ConfigMap throws');
    } catch (e) {
        ok(e.code === 404, 'reading a missing ConfigMap throws ApiException 404', String(e.message || e));
    }

    // 4. an informer on pods in the namespace
    const seen = { add: [], update: [], delete: [] };
    const errors = [];
    const informer = k8s.makeInformer(kc, `/api/v1/namespaces/${ns}/pods`,
        () => core.listNamespacedPod({ namespace: ns }));
    informer.on('add', (o) => seen.add.push(o));
    informer.on('update', (o) => seen.update.push(o));
    informer.on('delete', (o) => seen.delete.push(o));
    informer.on('error', (e) => errors.push(e));
    await informer.start();

    const podName = 'watched';
    await core.createNamespacedPod({
        namespace: ns,
        body: {
            metadata: { name: podName, labels: { app: 'cn' } },
            spec: { containers: [{ name: 'c', image: 'img:1' }] },
        },
    });
    ok(await waitFor(() => seen.add.some((p) => p.metadata.name === podName), 10000),
        'informer: ADDED for the new pod', { add: seen.add.length, errors: errors.map(String) });
    ok(informer.list(ns).some((p) => p.metadata.name === podName), 'informer cache lists the pod');

    await core.patchNamespacedPod({
        name: podName,
        namespace: ns,
        body: [{ op: 'add', path: '/metadata/labels/stage', value: 'two' }],
    });
    ok(await waitFor(() => seen.update.some((p) => p.metadata.labels && p.metadata.labels.stage === 'two'), 10000),
        'informer: UPDATED with the patched label', { update: seen.update.length, errors: errors.map(String) });
    const cached = informer.get(podName, ns);
    is(cached && cached.metadata.labels.stage, 'two', 'informer cache holds the updated pod');

    await core.deleteNamespacedPod({ name: podName, namespace: ns });
    ok(await waitFor(() => seen.delete.some((p) => p.metadata.name === podName), 10000),
        'informer: DELETED for the pod', { delete: seen.delete.length, errors: errors.map(String) });
    ok(!informer.list(ns).some((p) => p.metadata.name === podName), 'informer cache dropped the pod');
    is(errors.map(String), [], 'informer reported no errors');
    await informer.stop();

    // 5. delete the ConfigMap
    await core.deleteNamespacedConfigMap({ name: 'cfg', namespace: ns });
    try {
        await core.readNamespacedConfigMap({ name: 'cfg', namespace: ns });
        ok(false, 'the deleted ConfigMap is gone');
    } catch (e) {
        ok(e.code === 404, 'the deleted ConfigMap is gone', String(e.message || e));
    }
}

main()
    .catch((e) => {
        ok(false, 'no exception escaped', String((e && e.stack) || e));
    })
    .finally(() => {
        clearTimeout(timer);
        finish();
    });
