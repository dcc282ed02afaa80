/* edgeml inspect MODEL [--json] [--optimized] */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const char *k_help =
    "usage: edgeml inspect MODEL [--json] [--optimized]\n"
    "\n"
    "Prints the IR version, opsets, producer, graph inputs and outputs (dtypes,\n"
    "shapes with symbolic dims by name, '?' when unknown), the op histogram\n"
    "(subgraphs included) and the parameter count and bytes (initializers).\n"
    "\n"
    "options:\n"
    "  --json      print one JSON object instead of text\n"
    "  --optimized also print the graph as it runs, after graph optimisation\n"
    "              (EDGEML_OPT=0 turns that off): per node its op, fused epilogue\n"
    "              (e.g. \"Conv +Add +Relu\"), name, inputs -> outputs; then its op counts\n"
    "  -h, --help  this help\n";

static const char *kind_name(edgeml_value_kind k)
{
    return k == EDGEML_KIND_SEQUENCE ? "sequence" : k == EDGEML_KIND_OPTIONAL ? "optional"
                                                                            : "tensor";
}

static void text_values(const edgeml_model *m, int outputs)
{
    size_t n = outputs ? edgeml_model_num_outputs(m) : edgeml_model_num_inputs(m);
    printf("%s (%zu):\n", outputs ? "outputs" : "inputs", n);
    for (size_t i = 0; i < n; i++) {
        edgeml_value_info vi;
        edgeml_status st = outputs ? edgeml_model_output(m, i, &vi) : edgeml_model_input(m, i, &vi);
        if (st != EDGEML_OK)
            continue;
        char shape[1024];
        cli_format_shape(&vi, shape, sizeof shape);
        if (vi.kind == EDGEML_KIND_TENSOR)
            printf("  %s  %s %s%s\n", cli_q(vi.name), edgeml_dtype_name(vi.dtype), shape,
                   vi.has_default ? "  (optional: defaults to its initializer)" : "");
        else
            printf("  %s  %s of %s %s\n", cli_q(vi.name), kind_name(vi.kind),
                   edgeml_dtype_name(vi.dtype), shape);
    }
}

static void json_values(const edgeml_model *m, int outputs)
{
    size_t n = outputs ? edgeml_model_num_outputs(m) : edgeml_model_num_inputs(m);
    printf("[");
    for (size_t i = 0; i < n; i++) {
        edgeml_value_info vi;
        edgeml_status st = outputs ? edgeml_model_output(m, i, &vi) : edgeml_model_input(m, i, &vi);
        if (st != EDGEML_OK)
            continue;
        printf("%s{\"name\": ", i ? ", " : "");
        cli_json_str(stdout, vi.name);
        printf(", \"kind\": \"%s\", ", kind_name(vi.kind));
        if (!outputs)
            printf("\"has_default\": %s, ", vi.has_default ? "true" : "false");
        printf("\"dtype\": ");
        cli_json_str(stdout, edgeml_dtype_name(vi.dtype));
        printf(", \"shape\": ");
        if (vi.rank < 0) {
            printf("null");
        } else {
            printf("[");
            for (int d = 0; d < vi.rank; d++) {
                if (d)
                    printf(", ");
                if (vi.dims[d] >= 0)
                    printf("%lld", (long long)vi.dims[d]);
                else if (vi.dim_names && vi.dim_names[d] && vi.dim_names[d][0])
                    cli_json_str(stdout, vi.dim_names[d]);
                else
                    printf("null");
            }
            printf("]");
        }
        printf("}");
    }
    printf("]");
}

/* "Conv +Add +Relu", "edgeml:Gelu". */
static void node_label(const edgeml_node_info *ni, char *buf, size_t n)
{
    int k = snprintf(buf, n, "%s%s%s", ni->domain[0] ? ni->domain : "", ni->domain[0] ? ":" : "", ni->op_type);
    if (k < 0 || (size_t)k >= n)
        return;
    if (ni->fused_add_input >= 0)
        k += snprintf(buf + k, n - (size_t)k, " +Add");
    if (ni->fused_act && (size_t)k < n)
        snprintf(buf + k, n - (size_t)k, " +%s", ni->fused_act);
}

typedef struct label_count {
    char label[160];
    size_t count;
} label_count;

/* Histogram of node labels, in order of first appearance; returns the number of labels. */
static size_t count_labels(const edgeml_model *m, label_count **out)
{
    size_t nn = edgeml_model_num_nodes(m), nl = 0;
    label_count *lc = calloc(nn + 1, sizeof *lc);
    *out = lc;
    if (!lc)
        return 0;
    for (size_t i = 0; i < nn; i++) {
        edgeml_node_info ni;
        char lab[160];
        if (edgeml_model_node(m, i, &ni) != EDGEML_OK)
            continue;
        node_label(&ni, lab, sizeof lab);
        size_t j;
        for (j = 0; j < nl; j++)
            if (strcmp(lc[j].label, lab) == 0)
                break;
        if (j == nl)
            snprintf(lc[nl++].label, sizeof lc[0].label, "%s", lab);
        lc[j].count++;
    }
    return nl;
}

static void text_optimized(const edgeml_model *m, size_t n_loaded)
{
    size_t nn = edgeml_model_num_nodes(m);
    printf("optimized graph: %zu nodes (%zu as loaded)\n", nn, n_loaded);
    for (size_t i = 0; i < nn; i++) {
        edgeml_node_info ni;
        char lab[160];
        if (edgeml_model_node(m, i, &ni) != EDGEML_OK)
            continue;
        node_label(&ni, lab, sizeof lab);
        printf("  %-28s %s: ", lab, ni.name[0] ? cli_q(ni.name) : "-");
        for (size_t j = 0; j < ni.n_inputs; j++)
            printf("%s%s", j ? ", " : "", ni.inputs[j][0] ? cli_q(ni.inputs[j]) : "-");
        printf(" -> ");
        for (size_t j = 0; j < ni.n_outputs; j++)
            printf("%s%s", j ? ", " : "", ni.outputs[j][0] ? cli_q(ni.outputs[j]) : "-");
        printf("\n");
    }
    label_count *lc;
    size_t nl = count_labels(m, &lc);
    printf("optimized ops (%zu kinds):\n", nl);
    for (size_t i = 0; i < nl; i++)
        printf("  %-28s %zu\n", cli_esc(lc[i].label), lc[i].count);
    free(lc);
}

static void json_optimized(const edgeml_model *m)
{
    size_t nn = edgeml_model_num_nodes(m);
    printf(", \"optimized\": {\"nodes\": [");
    for (size_t i = 0; i < nn; i++) {
        edgeml_node_info ni;
        char lab[160];
        if (edgeml_model_node(m, i, &ni) != EDGEML_OK)
            continue;
        node_label(&ni, lab, sizeof lab);
        printf("%s{\"op\": ", i ? ", " : "");
        cli_json_str(stdout, lab);
        printf(", \"name\": ");
        cli_json_str(stdout, ni.name);
        printf(", \"inputs\": [");
        for (size_t j = 0; j < ni.n_inputs; j++) {
            printf("%s", j ? ", " : "");
            cli_json_str(stdout, ni.inputs[j]);
        }
        printf("], \"outputs\": [");
        for (size_t j = 0; j < ni.n_outputs; j++) {
            printf("%s", j ? ", " : "");
            cli_json_str(stdout, ni.outputs[j]);
        }
        printf("]}");
    }
    printf("], \"ops\": {");
    label_count *lc;
    size_t nl = count_labels(m, &lc);
    for (size_t i = 0; i < nl; i++) {
        printf("%s", i ? ", " : "");
        cli_json_str(stdout, lc[i].label);
        printf(": %zu", lc[i].count);
    }
    free(lc);
    printf("}}");
}

int cli_cmd_inspect(int argc, char **argv)
{
    const char *cmd = "inspect", *path = NULL;
    int json = 0, only_pos = 0, optimized = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_pos && a[0] == '-' && a[1]) {
            if (strcmp(a, "--") == 0)
                only_pos = 1;
            else if (cli_is_help(a)) {
                fputs(k_help, stdout);
                return CLI_EXIT_OK;
            } else if (strcmp(a, "--json") == 0)
                json = 1;
            else if (strcmp(a, "--optimized") == 0 || strcmp(a, "--optimised") == 0)
                optimized = 1;
            else
                return cli_usage(cmd, "unknown option %s", cli_q(a));
            continue;
        }
        if (path)
            return cli_usage(cmd, "unexpected argument %s (one MODEL only)", cli_q(a));
        path = a;
    }
    if (!path)
        return cli_usage(cmd, "missing MODEL");
    edgeml_model *m = NULL;
    if (cli_load_model(path, &m) != 0)
        return CLI_EXIT_FAIL;
    edgeml_model_info info;
    memset(&info, 0, sizeof info);
    edgeml_model_get_info(m, &info);

    if (json) {
        printf("{\"model\": ");
        cli_json_str(stdout, path);
        printf(", \"ir_version\": %lld, \"producer_name\": ", (long long)info.ir_version);
        cli_json_str(stdout, info.producer_name);
        printf(", \"producer_version\": ");
        cli_json_str(stdout, info.producer_version);
        printf(", \"graph_name\": ");
        cli_json_str(stdout, info.graph_name);
        printf(", \"opsets\": {");
        for (size_t i = 0; i < info.n_opsets; i++) {
            printf("%s", i ? ", " : "");
            const char *d = info.opsets[i].domain;
            cli_json_str(stdout, d && d[0] ? d : "ai.onnx");
            printf(": %lld", (long long)info.opsets[i].version);
        }
        printf("}, \"inputs\": ");
        json_values(m, 0);
        printf(", \"outputs\": ");
        json_values(m, 1);
        printf(", \"nodes\": %zu, \"ops\": {", info.n_nodes);
        for (size_t i = 0; i < info.n_op_types; i++) {
            printf("%s", i ? ", " : "");
            cli_json_str(stdout, info.op_counts[i].op_type);
            printf(": %zu", info.op_counts[i].count);
        }
        printf("}, \"param_count\": %llu, \"param_bytes\": %llu",
               (unsigned long long)info.param_count, (unsigned long long)info.param_bytes);
        if (optimized)
            json_optimized(m);
        printf("}\n");
    } else {
        printf("model: %s\n", path);
        printf("ir_version: %lld\n", (long long)info.ir_version);
        printf("producer: %s %s\n", cli_esc(info.producer_name), cli_esc(info.producer_version));
        printf("graph: %s\n", cli_esc(info.graph_name));
        printf("opsets:");
        for (size_t i = 0; i < info.n_opsets; i++) {
            const char *d = info.opsets[i].domain;
            printf("%s %s %lld", i ? "," : "", d && d[0] ? cli_q(d) : "ai.onnx",
                   (long long)info.opsets[i].version);
        }
        printf("\n");
        text_values(m, 0);
        text_values(m, 1);
        printf("nodes: %zu\n", info.n_nodes);
        printf("ops (%zu types):\n", info.n_op_types);
        for (size_t i = 0; i < info.n_op_types; i++)
            printf("  %-24s %zu\n", cli_esc(info.op_counts[i].op_type), info.op_counts[i].count);
        double mib = (double)info.param_bytes / (1024.0 * 1024.0);
        printf("parameters: %llu (%llu bytes, %.2f MiB)\n", (unsigned long long)info.param_count,
               (unsigned long long)info.param_bytes, mib);
        if (optimized)
            text_optimized(m, info.n_nodes);
    }
    fflush(stdout);
    edgeml_model_free(m);
    if (ferror(stdout))
        return cli_error(cmd, "cannot write to stdout");
    return CLI_EXIT_OK;
}
