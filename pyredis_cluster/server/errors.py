"""Every error text a client can see, in one place, byte-exact with Redis 7.0.

Handlers raise :class:`CommandError` (or return an :class:`ErrorReply`) built from the
constants and functions here; nothing else in the server spells an error message. The
texts are Redis's wire contract: clients classify errors by their first word and some
match whole messages, so change nothing here without checking the real redis-server.
"""

from __future__ import annotations

from ..protocol.encoder import ErrorReply


class CommandError(Exception):
    """Raised by a handler to answer with an error reply and stop the command."""

    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.reply = ErrorReply(reply)


# -- generic ---------------------------------------------------------------------------
SYNTAX = "ERR syntax error"
WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
NOT_INTEGER = "ERR value is not an integer or out of range"
NOT_FLOAT = "ERR value is not a valid float"
INCR_OVERFLOW = "ERR increment or decrement would overflow"
INCR_NAN_OR_INF = "ERR increment would produce NaN or Infinity"
NO_SUCH_KEY = "ERR no such key"
OUT_OF_RANGE = "ERR index out of range"
DB_INDEX_OUT_OF_RANGE = "ERR DB index is out of range"
SELECT_NOT_ALLOWED_IN_CLUSTER = "ERR SELECT is not allowed in cluster mode"
TIMEOUT_NOT_FLOAT = "ERR timeout is not a float or out of range"
TIMEOUT_NEGATIVE = "ERR timeout is negative"
TIMEOUT_OUT_OF_RANGE = "ERR timeout is out of range"
EXPIRE_INVALID = "ERR invalid expire time in '{}' command"
STRING_TOO_LONG = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
BIT_OFFSET = "ERR bit offset is not an integer or out of range"
BIT_VALUE = "ERR bit is not an integer or out of range"
NOAUTH = "NOAUTH Authentication required."
WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."
AUTH_NOT_CONFIGURED = (
    "ERR AUTH <password> called without any password configured for the default user. "
    "Are you sure your configuration is correct?"
)
NOPROTO = "NOPROTO unsupported protocol version"
EXECABORT = "EXECABORT Transaction discarded because of previous errors."
MULTI_NESTED = "ERR MULTI calls can not be nested"
EXEC_WITHOUT_MULTI = "ERR EXEC without MULTI"
DISCARD_WITHOUT_MULTI = "ERR DISCARD without MULTI"
WATCH_IN_MULTI = "ERR WATCH inside MULTI is not allowed"
SUBSCRIBE_CONTEXT = (
    "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET "
    "are allowed in this context"
)
DEBUG_COMMAND_NOT_ALLOWED = (
    "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", "
    "you can run it from a local connection, otherwise you need to set this option in the "
    "configuration file, and then restart the server."
)
MAX_CLIENTS = "ERR max number of clients reached"
NOT_ALLOWED_IN_MULTI = "ERR Command not allowed inside a transaction"


def wrong_arity(name: str) -> str:
    return f"ERR wrong number of arguments for '{name}' command"


def unknown_command(name: bytes, args: list[bytes]) -> str:
    """Redis's text: the name, then the first arguments quoted, truncated to 128 chars."""
    shown = _printable(name, 128)
    arg_text = ""
    for arg in args:
        if len(arg_text) >= 128:
            break
        remaining = 128 - len(arg_text)
        arg_text += f"'{_printable(arg, remaining)}' "
    return f"ERR unknown command '{shown}', with args beginning with: {arg_text}"


def unknown_subcommand(sub: bytes, container: str) -> str:
    return f"ERR unknown subcommand '{_printable(sub, 128)}'. Try {container.upper()} HELP."


def _printable(data: bytes, limit: int) -> str:
    """Redis replaces newlines in echoed user input with spaces so the error stays one line."""
    text = data[:limit].decode("utf-8", errors="replace")
    return text.replace("\r", " ").replace("\n", " ")

#: Sent, then the connection closed, to a non-loopback client in protected mode.
PROTECTED_MODE_DENIED = (
    "DENIED Redis is running in protected mode because protected mode is enabled and no password "
    "is set for the default user. In this mode connections are only accepted from the loopback "
    "interface. If you want to connect from external computers to Redis you may adopt one of the "
    "following solutions: 1) Just disable protected mode sending the command 'CONFIG SET "
    "protected-mode no' from the loopback interface by connecting to Redis from the same host the "
    "server is running, however MAKE SURE Redis is not publicly accessible from internet if you do "
    "so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the "
    "protected mode by editing the Redis configuration file, and setting the protected mode option to "
    "'no', and then restarting the server. 3) If you started the server manually just for testing, "
    "restart it with the '--protected-mode no' option. 4) Set up an authentication password for the "
    "default user. NOTE: You only need to do one of the above things in order for the server to start "
    "accepting connections from the outside."
)
HELLO_PROTOVER_NOT_INTEGER = "ERR Protocol version is not an integer or out of range"
HELLO_SYNTAX = "ERR Syntax error in HELLO option '{}'"
HELLO_NOAUTH = (
    "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO "
    "<proto> AUTH <user> <pass> option can be used to authenticate the client and select the "
    "RESP protocol version at the same time"
)
CLIENT_NAME_CHARS = "ERR Client names cannot contain spaces, newlines or special characters."

# -- server / introspection commands (server.py, command_info.py, CLIENT) ---------------
FUNCTION_FLUSH_MODE = "ERR FUNCTION FLUSH only supports SYNC|ASYNC option"
FUNCTION_LIBRARY_NAME_MISSING = "ERR library name argument was not given"
FUNCTION_RESTORE_POLICY = "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."
FUNCTION_LIBRARY_NOT_FOUND = "ERR Library not found"
#: Ours: function libraries need the scripting engine, which is not there yet.
FUNCTIONS_UNSUPPORTED = "ERR function libraries are not supported by this server yet"
DUMP_PAYLOAD_INVALID = "ERR DUMP payload version or checksum are wrong"
NOTBUSY = "NOTBUSY No scripts in execution right now."


def subcommand_syntax(sub: bytes, container: bytes) -> str:
    """Redis's addReplySubcommandSyntaxError."""
    name = container.decode("utf-8", "replace").upper()
    return f"ERR unknown subcommand or wrong number of arguments for '{_printable(sub, 128)}'. Try {name} HELP."


def unknown_argument(arg: bytes) -> str:
    return f"ERR Unknown argument {arg.decode('utf-8', 'replace')}"

# -- strings and bitmaps (commands/strings.py, commands/bitmaps.py) --------------------------
DECR_OVERFLOW = "ERR decrement would overflow"
OFFSET_OUT_OF_RANGE = "ERR offset is out of range"
LCS_NOT_STRINGS = "ERR The specified keys must contain string values"
LCS_LEN_AND_IDX = "ERR If you want both the length and indexes, please just use IDX."
LCS_TOO_MUCH_MEMORY = "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
BITOP_NOT_ONE_KEY = "ERR BITOP NOT must be called with a single source key."
BITPOS_BIT = "ERR The bit argument must be 1 or 0."
BITFIELD_TYPE = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."
BITFIELD_OVERFLOW_TYPE = "ERR Invalid OVERFLOW type specified"
BITFIELD_RO_GET_ONLY = "ERR BITFIELD_RO only supports the GET subcommand"

# -- generic key commands (keys.py, sort.py) ---------------------------------------------
EXPIRE_NX_CONFLICT = "ERR NX and XX, GT or LT options at the same time are not compatible"
EXPIRE_GT_LT_CONFLICT = "ERR GT and LT options at the same time are not compatible"
SAME_OBJECT = "ERR source and destination objects are the same"
INVALID_CURSOR = "ERR invalid cursor"
MOVE_IN_CLUSTER = "ERR MOVE is not allowed in cluster mode"
COPY_DB_IN_CLUSTER = "ERR Copying to another database is not allowed in cluster mode"
SORT_NOT_DOUBLE = "ERR One or more scores can't be converted into double"
SORT_BY_IN_CLUSTER = "ERR BY option of SORT denied in Cluster mode."
SORT_GET_IN_CLUSTER = "ERR GET option of SORT denied in Cluster mode."
_LFU_SWITCH_NOTE = (
    "Please note that when switching between policies at runtime LRU and LFU data will "
    "take some time to adjust."
)
OBJECT_IDLETIME_UNDER_LFU = "ERR An LFU maxmemory policy is selected, idle time not tracked. " + _LFU_SWITCH_NOTE
OBJECT_FREQ_WITHOUT_LFU = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. " + _LFU_SWITCH_NOTE


def unsupported_option(option: bytes) -> str:
    """EXPIRE's error for an unknown flag, echoing it as given."""
    return f"ERR Unsupported option {_printable(option, 1 << 20)}"

# -- sets and sorted sets (commands/sets.py, commands/sorted_sets.py) ---------------------
VALUE_MUST_BE_POSITIVE = "ERR value is out of range, must be positive"
VALUE_OUT_OF_RANGE = "ERR value is out of range"
NUMKEYS_NOT_POSITIVE = "ERR numkeys should be greater than 0"
NUMKEYS_TOO_MANY = "ERR Number of keys can't be greater than number of args"
LIMIT_NEGATIVE = "ERR LIMIT can't be negative"
COUNT_NOT_POSITIVE = "ERR count should be greater than 0"
ZSET_MIN_MAX_NOT_FLOAT = "ERR min or max is not a float"
ZSET_LEX_RANGE_INVALID = "ERR min or max not valid string range item"
ZSET_SCORE_NAN = "ERR resulting score is not a number (NaN)"
ZADD_XX_NX = "ERR XX and NX options at the same time are not compatible"
ZADD_GT_LT_NX = "ERR GT, LT, and/or NX options at the same time are not compatible"
ZADD_INCR_PAIRS = "ERR INCR option supports a single increment-element pair"
ZRANGE_LIMIT_NEEDS_BY = "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
ZRANGE_BYLEX_WITHSCORES = "ERR syntax error, WITHSCORES not supported in combination with BYLEX"
ZSET_WEIGHT_NOT_FLOAT = "ERR weight value is not a float"


def value_not_between(low: int, high: int) -> str:
    """getRangeLongFromObjectOrReply's text for an integer outside [low, high]."""
    return f"ERR value is out of range, value must between {low} and {high}"


def zset_needs_input_key(name: str) -> str:
    return f"ERR at least 1 input key is needed for '{name}' command"

# -- pub/sub and transactions (commands/pubsub.py, commands/transactions.py) ----------------
#: SUBSCRIBE-family command from a client that must get exactly one reply (inside EXEC).
DENY_BLOCKING_SUBSCRIBE = "ERR {} isn't allowed for a DENY BLOCKING client"
#: EXEC when a gate refuses the transaction as a whole at EXEC time (OOM, NOREPLICAS...).
EXECABORT_BECAUSE = "EXECABORT Transaction discarded because of: {}"
SWAPDB_IN_CLUSTER = "ERR SWAPDB is not allowed in cluster mode"
SWAPDB_FIRST_INDEX = "ERR invalid first DB index"
SWAPDB_SECOND_INDEX = "ERR invalid second DB index"
NO_SHUTDOWN_IN_PROGRESS = "ERR No shutdown in progress."
MONITOR_DENY_BLOCKING = "ERR MONITOR isn't allowed for DENY BLOCKING client"
DEBUG_RELOAD_OPTIONS = "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options."
DEBUG_PROTOCOL_TYPE = (
    "ERR Wrong protocol type name. Please use one of the following: "
    "string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false"
)
DEBUG_PUSH_RESP2 = "ERR RESP2 is not supported by this command"
DEBUG_MEMORY_VALUE = "ERR argument must be a memory value"
POSITIVE_COUNT = "ERR positive count needed"
SORT_BY_ACL_DENIED = "ERR BY option of SORT denied due to insufficient ACL permissions."
SORT_GET_ACL_DENIED = "ERR GET option of SORT denied due to insufficient ACL permissions."
CONFIG_NO_FILE = "ERR The server is running without a config file"


def config_set_unknown(name: str) -> str:
    return f"ERR Unknown option or number of arguments for CONFIG SET - '{name}'"


def config_set_failed(name: str, reason: str) -> str:
    return f"ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}"
GETKEYS_INVALID_COMMAND = "ERR Invalid command specified"
GETKEYS_NO_KEYS = "ERR The command has no key arguments"
GETKEYS_WRONG_ARGS = "ERR Invalid number of arguments specified for command"
GETKEYS_INVALID_ARGS = "ERR Invalid arguments specified for command"
INVALID_CLIENT_ID = "ERR Invalid client ID"
NO_SUCH_CLIENT = "ERR No such client"
CLIENT_ID_POSITIVE = "ERR client-id should be greater than 0"
CLIENT_PAUSE_MODE = "ERR CLIENT PAUSE mode must be WRITE or ALL"
TIMEOUT_NOT_INTEGER = "ERR timeout is not an integer or out of range"
CLIENT_UNBLOCK_REASON = "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"
UNBLOCKED = "UNBLOCKED client unblocked via CLIENT UNBLOCK"
CLIENT_CACHING_NOT_TRACKING = (
    "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled"
)
#: Ours: client-side caching is not implemented.
TRACKING_UNSUPPORTED = "ERR CLIENT TRACKING is not supported by this server"


def unknown_client_type(name: bytes) -> str:
    return f"ERR Unknown client type '{name.decode('utf-8', 'replace')}'"


def no_such_user(name: bytes) -> str:
    return f"ERR No such user '{name.decode('utf-8', 'replace')}'"

# -- lists and hashes (commands/lists.py, commands/hashes.py) --------------------------------
LPOS_RANK_ZERO = (
    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
    "or use negative to start from the end of the list"
)
LPOS_COUNT_NEGATIVE = "ERR COUNT can't be negative"
LPOS_MAXLEN_NEGATIVE = "ERR MAXLEN can't be negative"
HASH_VALUE_NOT_INTEGER = "ERR hash value is not an integer"
HASH_VALUE_NOT_FLOAT = "ERR hash value is not a float"
INCREMENT_NAN_OR_INF = "ERR value is NaN or Infinity"
SLOWLOG_COUNT = "ERR count should be greater than or equal to -1"


def latency_no_samples(event: bytes) -> str:
    return f"ERR No samples available for event '{event.decode('utf-8', 'replace')}'"

# -- cluster redirections (client-contract.md §3.4) ---------------------------------------
MOVED = "MOVED {} {}"
ASK = "ASK {} {}"
CROSSSLOT = "CROSSSLOT Keys in request don't hash to the same slot"
TRYAGAIN = "TRYAGAIN Multiple keys request during rehashing of slot"
CLUSTERDOWN_STATE = "CLUSTERDOWN The cluster is down"
CLUSTERDOWN_RO_STATE = "CLUSTERDOWN The cluster is down and only accepts read commands"
CLUSTERDOWN_UNBOUND = "CLUSTERDOWN Hash slot not served"
READONLY_REPLICA = "READONLY You can't write against a read only replica."
CLUSTER_DISABLED = "ERR This instance has cluster support disabled"
CLUSTER_INVALID_SLOT = "ERR Invalid slot"
CLUSTER_INVALID_SLOT_OR_KEYS = "ERR Invalid slot or number of keys"
CLUSTER_INVALID_PORT = "ERR Invalid TCP base port specified: {}"
CLUSTER_INVALID_BUS_PORT = "ERR Invalid TCP bus port specified: {}"
CLUSTER_NOT_A_MASTER = "ERR The specified node is not a master"
CLUSTER_SAVECONFIG_FAILED = "ERR error saving the cluster node config: {}"
CLUSTER_FAILOVER_TO_PRIMARY = "ERR You should send CLUSTER FAILOVER to a replica"
CLUSTER_UNKNOWN_NODE = "ERR Unknown node {}"
DEBUG_CLUSTER_ONLY = "ERR Debug option only available for cluster mode enabled setup!"
DEBUG_UNKNOWN_DIRECTION = "ERR Unknown direction {}"

# -- DUMP / RESTORE (commands/dump.py) -------------------------------------------------------
BAD_DATA_FORMAT = "ERR Bad data format"
BUSYKEY = "BUSYKEY Target key name already exists."
RESTORE_INVALID_TTL = "ERR Invalid TTL value, must be >= 0"
RESTORE_INVALID_IDLETIME = "ERR Invalid IDLETIME value, must be >= 0"
RESTORE_INVALID_FREQ = "ERR Invalid FREQ value, must be >= 0 and <= 255"

# -- maxmemory (server/eviction.py, server/dispatch.py) ----------------------------------
#: A denyoom command (or any queued command in MULTI) while memory is over maxmemory.
OOM = "OOM command not allowed when used memory > 'maxmemory'."
#: A write while min-replicas-to-write asks for more replicas than are connected.
NOREPLICAS = "NOREPLICAS Not enough good replicas to write."

# -- Geo commands (commands/geo.py) ------------------------------------------------------------
GEO_INVALID_LONLAT = "ERR invalid longitude,latitude pair {:f},{:f}"
GEO_UNSUPPORTED_UNIT = "ERR unsupported unit provided. please use M, KM, FT, MI"
GEO_NEED_NUMERIC_RADIUS = "ERR need numeric radius"
GEO_NEED_NUMERIC_WIDTH = "ERR need numeric width"
GEO_NEED_NUMERIC_HEIGHT = "ERR need numeric height"
GEO_RADIUS_NEGATIVE = "ERR radius cannot be negative"
GEO_BOX_NEGATIVE = "ERR height or width cannot be negative"
GEO_MEMBER_NOT_DECODABLE = "ERR could not decode requested zset member"
GEO_COUNT_NOT_POSITIVE = "ERR COUNT must be > 0"
GEO_STORE_WITH_OPTIONS = "ERR {} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
GEO_NEED_ONE_FROM = "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {}"
GEO_NEED_ONE_BY = "ERR exactly one of BYRADIUS and BYBOX can be specified for {}"
GEO_ANY_NEEDS_COUNT = "ERR the ANY argument requires COUNT argument"

# -- MIGRATE ---------------------------------------------------------------------------
MIGRATE_KEYS_NEED_EMPTY_KEY = "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string"
MIGRATE_CONNECT_FAILED = "IOERR error or timeout connecting to the client"
MIGRATE_IO_FAILED = "IOERR error or timeout {} to target instance"  # "writing" or "reading"
MIGRATE_TARGET_ERROR = "ERR Target instance replied with error: {}"

# -- test double (testing/faults.py: PYREDIS.FAULT and scripted replies) -----------------
LOADING = "LOADING Redis is loading the dataset in memory"
BUSY_SCRIPT = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
TEST_COMMANDS_DISABLED = (
    "ERR PYREDIS.FAULT is disabled: start the node with 'enable-test-commands yes' (test doubles only)"
)
FAULT_SYNTAX = "ERR syntax error: PYREDIS.FAULT REPLY <kind> [KEY k|SLOT s|COMMAND name] [TIMES n] [TARGET host:port] | CLEAR | LIST"
FAULT_UNKNOWN_KIND = "ERR unknown scripted reply '{}': MOVED ASK TRYAGAIN CLUSTERDOWN LOADING BUSY READONLY DROP"
FAULT_NEEDS_TARGET = "ERR {} needs TARGET host:port"
FAULT_UNKNOWN_ACTION = (
    "ERR unknown PYREDIS.FAULT subcommand '{}': REPLY CLEAR LIST KILL PAUSE ISOLATE DROP DELAY SLOW CLOSE-CLIENTS HEAL"
)
#: PYREDIS.FAULT <action> with wrong arguments: the usage of that action.
FAULT_USAGE = {
    action: f"ERR wrong arguments: PYREDIS.FAULT {usage}"
    for action, usage in {
        "CLEAR": "CLEAR",
        "LIST": "LIST",
        "KILL": "KILL",
        "PAUSE": "PAUSE <milliseconds > 0>",
        "ISOLATE": "ISOLATE",
        "DROP": "DROP <node-id> [IN|OUT|BOTH]",
        "DELAY": "DELAY <node-id> <milliseconds > 0> [IN|OUT|BOTH]",
        "SLOW": "SLOW <milliseconds> (0: not slow)",
        "CLOSE-CLIENTS": "CLOSE-CLIENTS",
        "HEAL": "HEAL",
    }.items()
}

# -- teaching trace (server/trace.py: PYREDIS.TRACE) -------------------------------------
TRACE_SYNTAX = "ERR syntax error: PYREDIS.TRACE ON [FILE path] [CHANNEL] | OFF [FILE] [CHANNEL] | STATUS"
TRACE_FILE_FAILED = "can't open the trace file '{}': {}"  # a ConfigError reason (CONFIG SET) or after "ERR "

# -- replication (server/replication.py, commands/replication.py) --
REPLICAOF_CLUSTER = "ERR REPLICAOF not allowed in cluster mode."
INVALID_MASTER_PORT = "ERR Invalid master port"
REPLCONF_UNKNOWN = "ERR Unrecognized REPLCONF option: {}"
WAIT_ON_REPLICA = (
    "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is "
    "configured to be writable (which is not the default) writes to replicas are just local and are not propagated."
)
NOMASTERLINK = "NOMASTERLINK Can't SYNC while not connected with my master"

# -- time you control (testing/timecontrol.py: PYREDIS.CLOCK) ------------------------------
CLOCK_TEST_COMMANDS_DISABLED = (
    "ERR PYREDIS.CLOCK is disabled: start the node with 'enable-test-commands yes' (test doubles only)"
)
CLOCK_SYNTAX = "ERR syntax error: PYREDIS.CLOCK [SCALE <factor> | FREEZE | RESUME | ADVANCE <ms> | STEP | PENDING]"
CLOCK_UNKNOWN_ACTION = "ERR unknown PYREDIS.CLOCK subcommand '{}': SCALE FREEZE RESUME ADVANCE STEP PENDING"
CLOCK_BAD_SCALE = "ERR invalid time scale: {}"
CLOCK_BAD_ADVANCE = "ERR ADVANCE takes a number of milliseconds between 0 and {}"  # bus.MAX_ADVANCE_MS
CLOCK_NOT_FROZEN = "ERR the cluster clock is running: PYREDIS.CLOCK FREEZE first"

# -- a command that outlived its call (server/busy.py: MIGRATE's network part) -------------
#: the same text dispatch.call answers for a bug of ours (never a traceback)
INTERNAL_ERROR = "ERR internal error while executing the command (see the server log)"
