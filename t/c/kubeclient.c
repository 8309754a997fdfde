/* t/c/kubeclient.c: the CLI client's offline parts: which kubeconfig and context it uses,
 * what it takes from them, resource paths, and reading manifests for -f. Resolution against
 * a live server is covered by the CLI's end-to-end tests (t/7000, t/7100). */
#include "tap.h"
#include "kubeclient.h"
#include "cli.h"

#include <stdlib.h>
#include <unistd.h>

static char dir[] = "/tmp/berth-kc-XXXXXX";

static void write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static const char *cfg_text =
    "apiVersion: v1\nkind: Config\n"
    "clusters:\n"
    "- name: a\n  cluster: {server: 'http://127.0.0.1:7001/', certificate-authority: ca.pem}\n"
    "- name: b\n  cluster: {server: 'https://10.0.0.1:6443', insecure-skip-tls-verify: true}\n"
    "users:\n- name: u\n  user: {token: sekret}\n"
    "contexts:\n"
    "- name: one\n  context: {cluster: a, user: u, namespace: team}\n"
    "- name: two\n  context: {cluster: b, user: u}\n"
    "current-context: one\n";

static kubeclient_t *open_with(const char *server, const char *cfg, const char *ctx,
                               const char *ns, char *err)
{
    kubeclient_opts_t o = { server, cfg, ctx, ns, 0 };
    return kubeclient_open(&o, err, 512);
}

int main(void)
{
    char err[512], path[256];
    kubeclient_t *kc;
    plan_no_plan();
    if (!mkdtemp(dir))
        return 1;
    write_file("config", cfg_text);
    write_file("broken", "clusters: [\n");
    snprintf(path, sizeof path, "%s/config", dir);

    unsetenv("KUBECONFIG");
    unsetenv("BERTH_KUBECONFIG");
    setenv("HOME", dir, 1);   /* no ~/.kube/config there */
    kc = open_with(NULL, NULL, NULL, NULL, err);
    ok(kc != NULL, "no kubeconfig anywhere: the default server");
    is_str(kubeclient_server(kc), "http://127.0.0.1:6443", "default server");
    is_str(kubeclient_namespace(kc), "default", "default namespace");
    is_str(kubeclient_source(kc), "default", "source says default");
    kubeclient_free(kc);

    kc = open_with(NULL, path, NULL, NULL, err);
    ok(kc != NULL, "--kubeconfig read");
    is_str(kubeclient_server(kc), "http://127.0.0.1:7001", "server of the current context, trailing slash dropped");
    is_str(kubeclient_namespace(kc), "team", "namespace of the current context");
    is_str(kubeclient_source(kc), path, "source names the file");
    kubeclient_free(kc);

    kc = open_with(NULL, path, "two", "other", err);
    ok(kc != NULL, "--context two");
    is_str(kubeclient_server(kc), "https://10.0.0.1:6443", "server of context two");
    is_str(kubeclient_namespace(kc), "other", "-n wins over the context");
    kubeclient_free(kc);

    kc = open_with("127.0.0.1:9", path, NULL, NULL, err);
    is_str(kubeclient_server(kc), "http://127.0.0.1:9", "--server wins; http:// added");
    is_str(kubeclient_namespace(kc), "default", "--server ignores the kubeconfig's namespace");
    kubeclient_free(kc);

    setenv("BERTH_KUBECONFIG", path, 1);
    kc = open_with(NULL, NULL, NULL, NULL, err);
    is_str(kubeclient_server(kc), "http://127.0.0.1:7001", "BERTH_KUBECONFIG is read");
    kubeclient_free(kc);
    unsetenv("BERTH_KUBECONFIG");
    char list[600];
    snprintf(list, sizeof list, "%s/missing:%s", dir, path);
    setenv("KUBECONFIG", list, 1);
    kc = open_with(NULL, NULL, NULL, NULL, err);
    is_str(kc ? kubeclient_server(kc) : err, "http://127.0.0.1:7001",
           "KUBECONFIG: the first file that exists");
    kubeclient_free(kc);
    unsetenv("KUBECONFIG");

    kc = open_with(NULL, path, "three", NULL, err);
    ok(!kc && strstr(err, "context \"three\" does not exist"), "unknown context: %s", err);
    snprintf(path, sizeof path, "%s/broken", dir);
    kc = open_with(NULL, path, NULL, NULL, err);
    ok(!kc && strstr(err, "line "), "broken kubeconfig names the line: %s", err);
    kc = open_with(NULL, "/nonexistent/kc", NULL, NULL, err);
    ok(!kc && strstr(err, "/nonexistent/kc"), "missing kubeconfig named: %s", err);

    /* paths */
    kube_resource_t pods = { "", "v1", "pods", "pod", "Pod", "po", 1 };
    kube_resource_t deps = { "apps", "v1", "deployments", "deployment", "Deployment", "deploy", 1 };
    kube_resource_t nodes = { "", "v1", "nodes", "node", "Node", "no", 0 };
    char *p = kubeclient_path(&pods, "default", "web-1", "log");
    is_str(p, "/api/v1/namespaces/default/pods/web-1/log", "pod log path");
    free(p);
    p = kubeclient_path(&deps, NULL, NULL, NULL);
    is_str(p, "/apis/apps/v1/deployments", "all namespaces");
    free(p);
    p = kubeclient_path(&nodes, "default", "n 1/x", NULL);
    is_str(p, "/api/v1/nodes/n%201%2Fx", "cluster-scoped ignores ns; name escaped");
    free(p);

    /* manifests */
    write_file("m.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n"
                         "apiVersion: v1\nkind: List\nitems:\n"
                         "- {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}\n"
                         "- {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}\n");
    write_file("n.json", "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"s\"}}");
    write_file("skip.txt", "not a manifest");
    json_t *m = kubeclient_read_manifests(dir, err, sizeof err);
    ok(m != NULL, "directory read: %s", m ? "" : err);
    is_int(json_array_size(m), 4, "four objects (List expanded, other files ignored)");
    ok(strstr(json_string_value(json_object_get(json_array_get(m, 2), "source")), "m.yaml (document 2) (item 2)") != NULL,
       "source names document and item");
    is_str(json_string_value(json_object_get(json_object_get(json_object_get(json_array_get(m, 3), "object"), "metadata"), "name")),
           "s", "JSON file after YAML (name order)");
    json_decref(m);
    write_file("bad.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [x\n");
    snprintf(path, sizeof path, "%s/bad.yaml", dir);
    m = kubeclient_read_manifests(path, err, sizeof err);
    ok(!m && strstr(err, "bad.yaml: line "), "bad YAML names file and line: %s", err);
    write_file("nokind.yaml", "apiVersion: v1\nmetadata: {name: x}\n");
    snprintf(path, sizeof path, "%s/nokind.yaml", dir);
    m = kubeclient_read_manifests(path, err, sizeof err);
    ok(!m && strstr(err, "kind not set"), "missing kind: %s", err);

    /* flags */
    char *argv[] = { "get", "-nkube-system", "--server=http://x:1", "--kubeconfig", "k", "pods", "-n" };
    cli_conn_t conn = { 0 };
    int i = 1;
    is_int(cli_conn_flag(&conn, 7, argv, &i), 1, "-nNS");
    is_str(conn.opts.namespace_, "kube-system", "namespace value");
    i = 2;
    is_int(cli_conn_flag(&conn, 7, argv, &i), 1, "--server=URL");
    is_str(conn.opts.server, "http://x:1", "server value");
    i = 3;
    is_int(cli_conn_flag(&conn, 7, argv, &i), 1, "--kubeconfig PATH");
    is_int(i, 4, "index advanced past the value");
    i = 5;
    is_int(cli_conn_flag(&conn, 7, argv, &i), 0, "a positional argument is not taken");
    i = 6;
    is_int(cli_conn_flag(&conn, 7, argv, &i), -1, "a flag without its value");

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) {}
    return done_testing();
}
