# Bench processes on a shared database sign sessions with this key (a deployment sets its own).
BENCH_KEY = "bench-signing-key-not-for-production"
