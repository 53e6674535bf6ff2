"""Log lines in redis-server's shape: ``pid:M 25 Nov 2026 13:03:16.123 * message``.

The role letter is M (primary), S (replica) or C (child); the level character is
``.`` debug, ``-`` verbose, ``*`` notice, ``#`` warning, as in Redis. Logs go to stdout
unless ``logfile`` is set, as with redis-server; nothing goes to stderr in a normal run.
"""

from __future__ import annotations

import logging
import os
import sys
import time

#: Redis's levels mapped onto logging's. VERBOSE sits between DEBUG and INFO.
VERBOSE = 15
logging.addLevelName(VERBOSE, "VERBOSE")
LEVELS = {"debug": logging.DEBUG, "verbose": VERBOSE, "notice": logging.INFO, "warning": logging.WARNING}
_LEVEL_CHARS = {logging.DEBUG: ".", VERBOSE: "-", logging.INFO: "*", logging.WARNING: "#"}


class RedisFormatter(logging.Formatter):
    role = "M"

    def format(self, record: logging.LogRecord) -> str:
        now = record.created
        stamp = time.strftime("%d %b %Y %H:%M:%S", time.localtime(now)) + ".%03d" % int((now % 1) * 1000)
        level = _LEVEL_CHARS.get(record.levelno, "#" if record.levelno > logging.WARNING else "*")
        text = f"{os.getpid()}:{self.role} {stamp} {level} {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def configure_logging(loglevel: str = "notice", logfile: str = "") -> logging.Logger:
    logger = logging.getLogger("pyredis_cluster")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    handler: logging.Handler
    if logfile:
        handler = logging.FileHandler(logfile)
    else:
        handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(RedisFormatter())
    logger.addHandler(handler)
    logger.setLevel(LEVELS.get(loglevel, logging.INFO))
    logger.propagate = False
    return logger
