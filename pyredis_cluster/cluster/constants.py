"""Timing and sizing constants of the cluster protocol, named as in Redis 7.0.

Theory of operation
-------------------
Redis expresses most cluster timeouts either as fixed milliseconds or as a
multiple (``*_MULT``) of ``cluster-node-timeout``. Keeping them here, under the
names the Redis source and the cluster spec use, lets a reader map every timer in
``state.py``/``failure.py``/``election.py`` back to the spec, and lets the
teaching trace slow the whole cluster down by changing one number. All times are
milliseconds unless a name says otherwise. Values are those of redis 7.0.15 (see
``shared/reference/bus.md`` §8).

Deliberately weak: these are module constants, not configuration. The few that
Redis makes configurable (``cluster-node-timeout``, the migration barrier, the
validity factor...) get their defaults here and their live values from Config.
"""

from __future__ import annotations

# --- sizes ------------------------------------------------------------------
CLUSTER_SLOTS = 16384  # number of hash slots
CLUSTER_NAMELEN = 40  # node id length: 40 lowercase hex/alnum chars, no NUL on the wire
NET_IP_STR_LEN = 46  # IP fields on the wire: NUL-padded C strings of this size
CLUSTER_PORT_INCR = 10000  # default bus port = client port + this
CLUSTER_PROTO_VER = 1  # bus protocol version in every header; others are silently ignored

# --- cron ---------------------------------------------------------------------
CLUSTER_CRON_PERIOD = 100  # clusterCron runs every 100 ms (server.hz = 10)
CLUSTER_RANDOM_PING_PERIOD = 1000  # every ~1 s, ping the oldest-pong of 5 random nodes
CLUSTER_RANDOM_PING_SAMPLE = 5  # how many random nodes that ping samples

# --- defaults of configurable options -------------------------------------------
CLUSTER_DEFAULT_NODE_TIMEOUT = 15000  # cluster-node-timeout default
CLUSTER_DEFAULT_SLAVE_VALIDITY = 10  # cluster-replica-validity-factor default
CLUSTER_DEFAULT_MIGRATION_BARRIER = 1  # cluster-migration-barrier default
CLUSTER_DEFAULT_REPL_PING_REPLICA_PERIOD = 10  # repl-ping-replica-period (seconds), enters data age

# --- failure detection ---------------------------------------------------------
CLUSTER_FAIL_REPORT_VALIDITY_MULT = 2  # a failure report expires after 2 * node_timeout
CLUSTER_FAIL_UNDO_TIME_MULT = 2  # FAIL on a master with slots is cleared 2 * node_timeout after it is back
CLUSTER_HANDSHAKE_TIMEOUT_MIN = 1000  # handshake nodes die after max(node_timeout, this)
CLUSTER_GOSSIP_WANTED_MIN = 3  # gossip at least 3 entries per ping (capped at known nodes - 2)
CLUSTER_GOSSIP_WANTED_DIV = 10  # ... or a tenth of the known nodes, if more
CLUSTER_GOSSIP_PONG_FUTURE_TOLERANCE = 500  # a gossiped pong time may be up to 500 ms in our future

# --- failover ------------------------------------------------------------------
CLUSTER_FAILOVER_AUTH_TIMEOUT_MIN = 2000  # auth timeout = max(2 * node_timeout, this)
CLUSTER_FAILOVER_AUTH_TIMEOUT_MULT = 2  # ... = 2 * node_timeout
CLUSTER_FAILOVER_AUTH_RETRY_MULT = 2  # next election no sooner than 2 * auth timeout
CLUSTER_FAILOVER_VOTE_SPACING_MULT = (
    2  # a master votes for one replica of a given master per 2 * node_timeout
)
CLUSTER_ELECTION_FIXED_DELAY = 500  # election starts 500 ms after FAIL, to let FAIL propagate
CLUSTER_ELECTION_RANDOM_DELAY = 500  # ... plus a random 0..499 ms, to desynchronise replicas
CLUSTER_ELECTION_RANK_DELAY = 1000  # ... plus 1 s per rank (less up-to-date replicas wait longer)
CLUSTER_MF_TIMEOUT = 5000  # a manual failover must finish within 5 s
CLUSTER_MF_PAUSE_MULT = 2  # the master pauses writes for CLUSTER_MF_TIMEOUT * this (10 s)
CLUSTER_CANT_FAILOVER_RELOG_PERIOD = 300  # seconds: "Currently unable to failover" repeats at most this often
CLUSTER_CANT_FAILOVER_NOLOG_EXTRA = 5000  # ... and stays quiet for node_timeout + this after the FAIL

# --- replica migration, forget, rejoin, writable ------------------------------------
CLUSTER_SLAVE_MIGRATION_DELAY = 5000  # a master must be orphaned this long before a replica migrates
CLUSTER_BLACKLIST_TTL = 60  # seconds: CLUSTER FORGET keeps gossip from re-adding a node this long
CLUSTER_MAX_REJOIN_DELAY = 5000  # a minority master waits at most this before serving again
CLUSTER_MIN_REJOIN_DELAY = 500  # ... and at least this
CLUSTER_WRITABLE_DELAY = 2000  # after startup, the cluster state is not marked OK before this
