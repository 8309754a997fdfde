/* json_yaml.h: the output side of the CLI's read verbs (`berth get`, `berth describe`): JSON
 * values printed as kubectl prints them.
 *
 * - json_yaml_dump: a jansson value to YAML text through libyaml's emitter, in the style of
 *   kubectl -o yaml (sigs.k8s.io/yaml over go-yaml v2): block style, sequences inside mappings
 *   not indented, empty maps and lists as {} and [], strings plain unless plain would read
 *   back as something else (null, bool, number, timestamp, "1:20") -- then double-quoted --,
 *   strings with newlines as literal blocks, lines folded at 80 columns as go-yaml does.
 *   With JSON_YAML_SORT_KEYS keys come in go-yaml's order (kubectl's: it goes through Go maps);
 *   without, in the object's own order.
 * - json_yaml_go_json: kubectl -o json: Go's json.MarshalIndent with four spaces, keys sorted,
 *   <, > and & escaped as \u003c..., floats in Go's shortest form.
 *
 * Depends on libyaml and jansson. Called by cli_get.c and cli_describe.c; their column
 * aligner is tabwriter.h. */
#ifndef BERTH_JSON_YAML_H
#define BERTH_JSON_YAML_H

#include <stddef.h>
#include <jansson.h>

#define JSON_YAML_SORT_KEYS 1

/* YAML text for v (any JSON value; a document of its own, no "---"). Returns a malloc'd
 * NUL-terminated string (caller frees; *len its length, len may be NULL), or NULL with err
 * set when libyaml refuses (out of memory). */
char *json_yaml_dump(const json_t *v, int flags, size_t *len, char *err, size_t errlen);

/* v as kubectl -o json prints it, ending with a newline. Caller frees; NULL on no memory. */
char *json_yaml_go_json(const json_t *v);

/* A float as Go's strconv.FormatFloat(f, fmt, -1, 64) with fmt 'f', 'e' or 'g' (shortest
 * digits that read back to f); 'v' is fmt's %v, the same as 'g'. */
void json_yaml_go_float(double f, char fmt, char *out, size_t outlen);

#endif
