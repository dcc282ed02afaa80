/* edgeml command line: dispatches to one subcommand per file (cmd_*.c).
 * Adding a subcommand: one line in CLI_COMMANDS below, plus its file
 * defining int cli_cmd_<name>(int argc, char **argv) (argv[0] is the name). */
#include "cli.h"

#include <string.h>

#define CLI_COMMANDS(X)                                                                   \
    X(infer, "run a model once on .npy inputs, write each output to OUT/<name>.npy")      \
    X(inspect, "print a model's IR version, opsets, inputs/outputs, ops and parameters") \
    X(bench, "measure load time, run latency and peak memory")                          \
    X(validate, "check a group definition (Greengrass v1 shapes), one line per violation") \
    X(deploy, "deploy a group definition's ML resources under --root (atomic activation)") \
    X(status, "show the deployments and active resources under --root")                 \
    X(core, "run the core daemon: functions, message routing, core.sock (foreground)")  \
    X(publish, "publish one message as 'cloud' through the core running on --root")    \
    X(subscribe, "print the messages the core routes to 'cloud' on a topic filter")     \
    X(invoke, "invoke a function of the running core directly and print its result")   \
    X(version, "print the edgeml version")

#define CLI_DECLARE(name, help) int cli_cmd_##name(int argc, char **argv);
CLI_COMMANDS(CLI_DECLARE)

typedef struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} cli_command;

#define CLI_ROW(name, help) {#name, cli_cmd_##name, help},
static const cli_command k_commands[] = {CLI_COMMANDS(CLI_ROW)};
#define N_COMMANDS (sizeof k_commands / sizeof k_commands[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: edgeml <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-10s %s\n", k_commands[i].name, k_commands[i].help);
    fprintf(f, "\n'edgeml <command> --help' describes a command's options.\n"
               "Exit status: 0 success, 1 failure, 2 usage error.\n");
}

static const cli_command *find(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(k_commands[i].name, name) == 0)
            return &k_commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (cli_is_help(cmd)) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0)
        cmd = "version";
    if (strcmp(cmd, "help") == 0) {
        if (argc == 2) {
            usage(stdout);
            return CLI_EXIT_OK;
        }
        const cli_command *c = find(argv[2]);
        if (!c)
            return cli_usage(NULL, "unknown command %s", cli_q(argv[2]));
        char *hargv[] = {argv[2], "--help", NULL};
        return c->run(2, hargv);
    }
    const cli_command *c = find(cmd);
    if (!c) {
        if (cmd[0] == '-')
            return cli_usage(NULL, "unknown option %s", cli_q(cmd));
        return cli_usage(NULL, "unknown command %s", cli_q(cmd));
    }
    return c->run(argc - 1, argv + 1);
}
