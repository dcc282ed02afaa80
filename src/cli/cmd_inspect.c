/* edgeml inspect MODEL [--json] */
#include "cli.h"

#include <string.h>

static const char *k_help =
    "usage: edgeml inspect MODEL [--json]\n"
    "\n"
    "Prints the IR version, opsets, producer, graph inputs and outputs (dtypes,\n"
    "shapes with symbolic dims by name, '?' when unknown), the op histogram\n"
    "(subgraphs included) and the parameter count and bytes (initializers).\n"
    "\n"
    "options:\n"
    "  --json      print one JSON object instead of text\n"
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

int cli_cmd_inspect(int argc, char **argv)
{
    const char *cmd = "inspect", *path = NULL;
    int json = 0, only_pos = 0;
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
        printf("}, \"param_count\": %llu, \"param_bytes\": %llu}\n",
               (unsigned long long)info.param_count, (unsigned long long)info.param_bytes);
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
    }
    fflush(stdout);
    edgeml_model_free(m);
    if (ferror(stdout))
        return cli_error(cmd, "cannot write to stdout");
    return CLI_EXIT_OK;
}
