"""Exit codes scripts can rely on: the same meaning in every command."""

OK = 0
USAGE = 2  # bad input: flags, files, recipients, message, journal (argparse uses 2 too)
CREDENTIALS = 3  # missing or rejected app key / secret / agent id
PARTIAL = 4  # some batches failed or are unknown, a poll failed, or delivery did not finish
API_ERROR = 5  # DingTalk or the network failed the whole command (e.g. server unreachable)
INTERRUPTED = 130  # Ctrl-C (SIGINT)
TERMINATED = 143  # SIGTERM (kill, systemd, a CI timeout): 128 + 15, as shells report it

EPILOG = """\
exit codes:
  0    everything acknowledged (and delivered, with --wait)
  2    bad input: flags, files, recipients, message, config file, or a journal that is in
       use or damaged; no command at all (`dingnotify` alone prints this help)
  3    credentials missing or rejected (wrong app key / secret / agent id), --wait too
  4    partial: some batches failed or unknown, unknown mobiles, a failed progress poll,
       delivery not finished within --wait-timeout (--out holds what was confirmed), or
       some of several TASK_IDs refused
  5    DingTalk or the network failed the whole command (server unreachable, API error)
  130  interrupted (Ctrl-C); the journal holds every acknowledged batch
  143  terminated (SIGTERM); the journal holds every acknowledged batch"""
