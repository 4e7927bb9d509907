"""The fault suite (`make faults`, `python -m faults`): a production-shaped gateway on private Postgres
and Redis servers, a counting fake SMS provider and a retrying load generator, one experiment per
fault; the figures go to RELIABILITY.md. tests/faults runs the same experiments, shorter."""
