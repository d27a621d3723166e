"""The `kubelite` command and its sub-commands.

Every command comes through here before anything imports grpc, so this is where gRPC's fork
support is turned off: kubelite never forks a process that goes on using gRPC (its children
exec at once), and with fork support on, a server that starts a child (its watch relay, the
control plane, cluster DNS) while a call is in flight logs "Other threads are currently calling
into gRPC, skipping fork() handlers". A value the user set is kept.
"""

import os

os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "0")
