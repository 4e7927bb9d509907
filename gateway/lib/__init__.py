"""The gateway's small library of infrastructure, free of its domain: database and Redis access,
crypto, ids, the network guard, in-process caches, group commit, the leased-queue loop, due-time
indexes, the work-due signal, problem details and request validation, pagination."""
