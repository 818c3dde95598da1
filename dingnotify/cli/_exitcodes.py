"""Exit codes scripts can rely on."""

OK = 0
USAGE = 2  # bad input: flags, files, recipients, message (argparse uses 2 too)
CREDENTIALS = 3  # missing or rejected app key / secret / agent id
PARTIAL = 4  # some batches failed, or delivery did not finish in time
API_ERROR = 5  # DingTalk or the network failed the whole command
INTERRUPTED = 130
